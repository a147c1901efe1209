"""Symlinks and subdirectories in and around ``aardvark-dns/``.

Never followed for reading, never written through, and a directory swapped for a symlink
in the middle of a repair redirects nothing. Root repairing a user's directory keeps
every file's owner and mode.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aardcheck.errors import ExitCode
from aardcheck.models import AardvarkVersion, Container, RunDir, Scope
from aardcheck.repair.apply import HostAccess, apply_plan
from aardcheck.repair.plan import DeleteFile, PruneLines, RepairPlan
from aardcheck.sources.aardvark_files import installed_aardvark_version
from aardcheck.sources.podman_json import containers_from_compat
from tests.faults.sandbox import (
    NET,
    NET_FILE,
    OLD,
    OLD_LINE,
    WEB,
    Sandbox,
    make_sandbox,
    tree_state,
)

V1_4 = AardvarkVersion(1, 4)
USER, GROUP = 12345, 12346  # a user that owns a rootless run dir (no account needed)
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown and cross-user writes need root")


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path / "host")


def _containers() -> tuple[Container, ...]:
    return containers_from_compat([OLD.compat(), WEB.compat()])


def _access(box: Sandbox, fresh: Callable[[], tuple[Container, ...]] = _containers) -> HostAccess:
    return HostAccess(
        run_dir=RunDir(box.run_dir, Scope.ROOTLESS, os.stat(box.run_dir).st_uid),
        version=V1_4,
        podman_lock=box.graph_root / "networks" / "netavark.lock",
        network_config_dir=box.graph_root / "networks",
        fresh_containers=fresh,
        lock_timeout=2.0,
    )


def _plan(box: Sandbox, name: str = NET) -> RepairPlan:
    action = PruneLines(NET, str(box.dns_dir / name), OLD.id, ("old",), (3,), "stopped-entry")
    return RepairPlan((action,), ())


def _victim(tmp_path: Path) -> Path:
    """A file outside aardvark-dns/ holding exactly what a prune would edit."""
    victim = tmp_path / "victim" / NET
    victim.parent.mkdir()
    victim.write_bytes(NET_FILE)
    return victim


def test_symlink_entry_is_reported_and_never_followed(box: Sandbox, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    link = box.dns_dir / "flink"
    link.symlink_to(victim)
    victim_before = tree_state(victim.parent)
    with box.api(box.fake()) as url:
        check = box.run(
            "check", "--format", "json", "--no-probe", "--url", url, "--run-dir", box.run_dir
        )
        fix = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    assert check.returncode == ExitCode.FINDINGS
    (about,) = [f for f in json.loads(check.stdout)["findings"] if f["path"] == str(link)]
    assert "symlink" in about["message"] and "does not follow" in about["message"]
    assert fix.returncode == ExitCode.FINDINGS, fix.stderr  # the symlink remains a finding
    assert OLD_LINE not in (box.dns_dir / NET).read_bytes()  # the real stale line went
    assert tree_state(victim.parent) == victim_before
    assert os.readlink(link) == str(victim)


def test_file_swapped_for_a_symlink_during_the_repair(box: Sandbox, tmp_path: Path) -> None:
    """Between the plan and the edit (under the locks) the file becomes a symlink."""
    victim = _victim(tmp_path)
    target = box.dns_dir / NET

    def swap() -> tuple[Container, ...]:
        target.unlink()
        target.symlink_to(victim)
        return _containers()

    (change,) = apply_plan(_plan(box), _access(box, swap))
    assert change.status == "skipped" and "symlink" in change.detail, change
    assert victim.read_bytes() == NET_FILE
    assert target.is_symlink() and os.readlink(target) == str(victim)


def test_orphan_file_swapped_for_a_symlink_is_not_deleted(box: Sandbox, tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    orphan = box.write("gone", NET_FILE)

    def swap() -> tuple[Container, ...]:
        orphan.unlink()
        orphan.symlink_to(victim)
        return _containers()

    plan = RepairPlan((DeleteFile("gone", str(orphan), "network 'gone' no longer exists"),), ())
    (change,) = apply_plan(plan, _access(box, swap))
    assert change.status == "skipped" and "symlink" in change.detail, change
    assert victim.read_bytes() == NET_FILE and orphan.is_symlink()


def test_directory_swapped_for_a_symlink_during_the_repair(box: Sandbox, tmp_path: Path) -> None:
    """aardvark-dns/ itself is renamed away and replaced by a symlink to another directory
    after the repair opened it: the edit lands in the directory that was checked."""
    victim = _victim(tmp_path)
    moved = box.run_dir / "aardvark-dns.moved"

    def swap() -> tuple[Container, ...]:
        box.dns_dir.rename(moved)
        box.dns_dir.symlink_to(victim.parent)
        return _containers()

    changes = apply_plan(_plan(box), _access(box, swap))
    assert [c.status for c in changes][:1] == ["done"], changes
    assert victim.read_bytes() == NET_FILE  # never written through the symlink
    assert OLD_LINE not in (moved / NET).read_bytes()
    assert not any(p.name.startswith(".aardcheck-") for p in victim.parent.iterdir())


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(folder, name), uid, gid)
    os.lchown(top, uid, gid)


@needs_root
@pytest.mark.parametrize("swapped", ["aardvark-dns", "parent", "rootful-aardvark-dns"])
def test_directory_replaced_before_the_repair(box: Sandbox, tmp_path: Path, swapped: str) -> None:
    """Root repairs a user's run dir; the user swaps its aardvark-dns/ (or a parent of the
    run dir) for a symlink to a root-owned directory first. Nothing there is touched. A
    root-owned aardvark-dns/ that is a symlink is refused as well (same owner, not
    followed)."""
    if swapped != "rootful-aardvark-dns":
        _chown_tree(box.root / "run", USER, GROUP)
    access = _access(box)  # the owner as the check saw it
    assert access.run_dir.uid == (0 if swapped == "rootful-aardvark-dns" else USER)
    decoy = tmp_path / "decoy"  # root's, laid out like a run dir
    (decoy / "networks" / "aardvark-dns").mkdir(parents=True)
    (decoy / "networks" / "aardvark-dns" / NET).write_bytes(NET_FILE)
    decoy_before = tree_state(decoy)
    if swapped != "parent":
        box.dns_dir.rename(box.run_dir / "aardvark-dns.moved")
        box.dns_dir.symlink_to(decoy / "networks" / "aardvark-dns")
    else:
        (box.root / "run").rename(box.root / "run.moved")
        (box.root / "run").symlink_to(decoy)
    (change,) = apply_plan(_plan(box), access)
    assert change.status == "failed" and "nothing changed" in change.detail, change
    assert tree_state(decoy) == decoy_before


def test_subdirectory_blocks_the_reload_and_is_left_alone(box: Sandbox) -> None:
    """aardvark 1.4 refuses a directory with a subdirectory at its next reload: fix prunes,
    then refuses to signal, says why, exits 4; the subdirectory is untouched. aardvark 1.14
    skips what it cannot read: the reload goes ahead, the subdirectory is still reported."""
    sub = box.dns_dir / "subdir"
    sub.mkdir()
    (sub / NET).write_bytes(NET_FILE)
    sub_before = tree_state(sub)
    with box.api(box.fake()) as url:
        check = box.run(
            "check", "--format", "json", "--no-probe", "--url", url, "--run-dir", box.run_dir
        )
        fix = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    (about,) = [f for f in json.loads(check.stdout)["findings"] if f["path"] == str(sub)]
    assert "subdirectory" in about["message"]
    if not installed_aardvark_version().skips_bad_files:  # what a reload signals
        assert about["kind"] == "unparsable-file" and about["severity"] == "critical"
        assert fix.returncode == ExitCode.REPAIR_INCOMPLETE, fix.stdout + fix.stderr
        assert "not reloading aardvark-dns" in fix.stderr and str(sub) in fix.stderr
    else:
        assert about["kind"] in ("unparsable-file", "unchecked"), about
        assert fix.returncode == ExitCode.FINDINGS, fix.stdout + fix.stderr
        assert "not reloading" not in fix.stderr
    assert OLD_LINE not in (box.dns_dir / NET).read_bytes()
    assert tree_state(sub) == sub_before


@needs_root
def test_root_over_a_users_directory_keeps_owner_and_mode(box: Sandbox) -> None:
    target = box.dns_dir / NET
    target.chmod(0o640)
    _chown_tree(box.root / "run", USER, GROUP)
    others = {k: v for k, v in box.state().items() if not k.endswith(NET.encode())}
    with box.api(box.fake()) as url:
        proc = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    assert proc.returncode == ExitCode.CLEAN, proc.stdout + proc.stderr
    st = os.lstat(target)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (USER, GROUP, 0o640)
    assert OLD_LINE not in target.read_bytes()
    after: dict[bytes, Any] = box.state(skip=frozenset({"aardvark.lock", "netavark.lock"}))
    # nothing else changed, no temp file left behind
    assert {k: v for k, v in after.items() if not k.endswith(NET.encode())} == others
