"""The dnsname repair plan (pure) and its apply step against a run directory copy."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
from dataclasses import replace
from pathlib import Path

import pytest

from aardcheck.dnsname.checks import check_dnsname
from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import Container, DnsDirectory, RunDir, Scope, Snapshot
from aardcheck.repair.dnsname_apply import apply_dnsname_plan, dnsmasq_of, signal_dnsmasq
from aardcheck.repair.dnsname_plan import build_dnsname_plan
from aardcheck.repair.plan import DeleteFile, PruneLines, ReloadContainer
from aardcheck.sources.dnsname_files import read_dnsname_root
from tests.cni.test_dnsname_checks import ROOT, SILENT, STATE


def _result(root: Path) -> CheckResult:
    findings = check_dnsname(read_dnsname_root(root), STATE, liveness=SILENT)
    snap = Snapshot(DnsDirectory(RunDir(root, Scope.ROOTFUL, 0), exists=False), STATE)
    return CheckResult(
        snap, tuple(findings), CheckContext(str(root), "rootful", network_backend="cni")
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "dnsname"
    shutil.copytree(ROOT, copy)
    return copy


def test_plan_prunes_dead_stopped_and_duplicates_deletes_orphans_skips_the_rest(
    run_dir: Path,
) -> None:
    plan = build_dnsname_plan(_result(run_dir))
    pruned = {(a.names, a.reason) for a in plan.actions if isinstance(a, PruneLines)}
    assert pruned == {
        (("web-dead",), "dead-entry"),
        (("web-reused",), "dead-entry"),
        (("web-stopped",), "stopped-entry"),
        (("web-live",), "duplicate-entry"),
    }
    assert [a.network for a in plan.actions if isinstance(a, DeleteFile)] == ["gone"]
    # running containers' wrong or missing lines: podman's reload, once per container
    reloads = [a.container_name for a in plan.actions if isinstance(a, ReloadContainer)]
    assert sorted(reloads) == ["web-moved", "web-reused", "web-unlisted"]
    assert isinstance(plan.actions[-1], ReloadContainer)
    assert {str(s.finding.kind) for s in plan.skipped} == {"unknown-entry", "unparsable-file"}


def _apply(run_dir: Path, containers: tuple[Container, ...] = STATE.containers) -> list[str]:
    result = _result(run_dir)
    plan = build_dnsname_plan(result)
    # the file edits only: reloads run podman (test_cni_real.py::test_fix_reloads_*)
    edits = tuple(a for a in plan.actions if not isinstance(a, ReloadContainer))
    changes = apply_dnsname_plan(
        replace(plan, actions=edits),
        result.findings,
        containers=lambda: containers,
        network_exists=lambda name: False,
        lock_timeout=0.3,
    )
    return [f"{c.action} {c.network} {c.status}" for c in changes]


def test_apply_drops_exactly_the_stale_lines_and_keeps_every_other_byte(run_dir: Path) -> None:
    before = (run_dir / "web" / "addnhosts").read_bytes().split(b"\n")
    assert _apply(run_dir) == ["prune-lines web done", "delete-file gone done"]
    after = (run_dir / "web" / "addnhosts").read_bytes().split(b"\n")
    # lines 2 (dead), 3 (stopped), 5 (second copy) and 9 (an older container's name)
    assert after == [line for n, line in enumerate(before, 1) if n not in (2, 3, 5, 9)]
    assert (run_dir / "web" / "lock").exists() and not (run_dir / "gone").exists()
    assert oct((run_dir / "web" / "addnhosts").stat().st_mode & 0o777) == oct(
        (ROOT / "web" / "addnhosts").stat().st_mode & 0o777
    )


def test_a_container_that_came_back_keeps_its_line(run_dir: Path) -> None:
    back = Container("b" * 64, "web-dead", "running")
    _apply(run_dir, (*STATE.containers, back))
    assert b"\tweb-dead\t" in (run_dir / "web" / "addnhosts").read_bytes()


def test_the_plugins_lock_held_means_nothing_changes(run_dir: Path) -> None:
    before = (run_dir / "web" / "addnhosts").read_bytes()
    fd = os.open(run_dir / "web" / "lock", os.O_RDONLY | os.O_CREAT, 0o750)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert _apply(run_dir)[0] == "prune-lines web failed"
    finally:
        os.close(fd)
    assert (run_dir / "web" / "addnhosts").read_bytes() == before


def test_only_this_directorys_dnsmasq_is_ever_signalled(run_dir: Path) -> None:
    (run_dir / "web" / "pidfile").write_text(f"{os.getpid()}\n")  # a live non-dnsmasq
    assert dnsmasq_of(run_dir / "web") is None
    fd = os.open(run_dir / "web", os.O_RDONLY | os.O_DIRECTORY)
    try:  # SIGTERM would end this very test process
        assert signal_dnsmasq(run_dir / "web", fd, signal.SIGTERM) is None
    finally:
        os.close(fd)
    (run_dir / "web" / "pidfile").write_text("garbage")
    assert dnsmasq_of(run_dir / "web") is None


def test_a_directory_swapped_for_a_symlink_is_never_acted_through(
    run_dir: Path, tmp_path: Path
) -> None:
    """A rootless user swapping ``NET/`` for a symlink between check and repair must not
    steer root's edit or delete elsewhere."""
    result = _result(run_dir)  # checked while the directories were real
    plan = build_dnsname_plan(result)
    for name in ("web", "gone"):
        shutil.rmtree(run_dir / name)
    target = tmp_path / "target"
    target.mkdir()
    (target / "addnhosts").write_bytes((ROOT / "web" / "addnhosts").read_bytes())
    (target / "precious").write_text("x")
    (run_dir / "web").symlink_to(target)
    (run_dir / "gone").symlink_to(target)
    edits = tuple(a for a in plan.actions if not isinstance(a, ReloadContainer))
    changes = apply_dnsname_plan(
        replace(plan, actions=edits),
        result.findings,
        containers=lambda: STATE.containers,
        network_exists=lambda name: False,
        lock_timeout=0.3,
    )
    assert [(c.action, c.status) for c in changes] == [
        ("prune-lines", "failed"),
        ("delete-file", "failed"),
    ]
    assert (target / "addnhosts").read_bytes() == (ROOT / "web" / "addnhosts").read_bytes()
    assert (target / "precious").exists() and not (target / "lock").exists()
