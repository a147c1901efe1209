"""The run directory unreadable, files vanishing or rewritten while read, odd encodings,
a 100 MB file. aardcheck reports each as what it is, never as clean, and changes nothing
it should not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aardcheck.errors import ExitCode
from aardcheck.models import AardvarkVersion, RunDir, Scope
from aardcheck.repair.apply import HostAccess, apply_plan
from aardcheck.repair.plan import PruneLines, RepairPlan
from aardcheck.sources.aardvark_files import (
    MAX_FILE_BYTES,
    installed_aardvark_version,
    read_dns_directory,
)
from tests.faults.fake_api import network_json
from tests.faults.sandbox import (
    GATEWAY,
    NET,
    OLD,
    OLD_LINE,
    WEB,
    WEB_LINE,
    Sandbox,
    make_sandbox,
    one_error_line,
)
from tests.realpodman.invoke import readable_code_root

V1_4 = AardvarkVersion(1, 4)
NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


# --------------------------------------------------------------------------- unreadable


@pytest.fixture
def open_box() -> Iterator[Sandbox]:
    """A sandbox other users may traverse (pytest's tmp_path is private to root)."""
    root = Path(tempfile.mkdtemp(prefix="aardfault-"))
    root.chmod(0o755)
    try:
        yield make_sandbox(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _as_nobody(box: Sandbox, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    # nobody must reach the interpreter and the code even from a checkout closed to
    # other users (a CI clone under /root): the venv's real directory, a readable copy.
    python = str(Path(sys.prefix).resolve() / "bin" / "python")
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    argv += [python, "-m", "aardcheck", *(os.fspath(a) for a in args)]
    env = box.env({"HOME": "/nonexistent", "PYTHONPATH": str(readable_code_root())})
    return subprocess.run(
        argv, env=env, cwd="/", capture_output=True, text=True, timeout=90, check=False
    )


@needs_root
@pytest.mark.parametrize("command", ["check", "fix", "lint"])
def test_run_directory_unreadable(open_box: Sandbox, command: str) -> None:
    """Nothing could be looked at: exit 3, one line, not a report of findings (every live
    container would otherwise look as if its line were missing)."""
    box = open_box
    box.dns_dir.chmod(0o700)  # root's; nobody may not list it
    fake = box.fake()
    before = box.state()
    with box.api(fake) as url:
        box.socket_path.chmod(0o666)
        args: tuple[str | os.PathLike[str], ...] = (box.run_dir,)
        if command != "lint":
            args = ("--no-probe", "--url", url, "--run-dir", box.run_dir)
            args = ("--yes", *args) if command == "fix" else args
        proc = _as_nobody(box, command, *args)
    assert proc.returncode == ExitCode.ENVIRONMENT, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line = one_error_line(proc)
    assert str(box.dns_dir) in line and "Permission denied" in line, line
    assert box.state() == before


@needs_root
def test_one_network_file_unreadable_is_never_clean(open_box: Sandbox) -> None:
    box = open_box
    (box.dns_dir / NET).chmod(0o600)  # root's; nobody may not read it
    with box.api(box.fake()) as url:
        box.socket_path.chmod(0o666)
        proc = _as_nobody(
            box, "check", "--format", "json", "--no-probe", "--url", url, "--run-dir", box.run_dir
        )
    assert proc.returncode == ExitCode.FINDINGS, proc.stderr
    doc = json.loads(proc.stdout)
    (about,) = [f for f in doc["findings"] if f["path"] == str(box.dns_dir / NET)]
    assert "Permission denied" in about["message"]


@needs_root
def test_one_network_file_unreadable_does_not_invent_missing_lines(open_box: Sandbox) -> None:
    box = open_box
    (box.dns_dir / NET).chmod(0o600)
    with box.api(box.fake()) as url:
        box.socket_path.chmod(0o666)
        proc = _as_nobody(
            box, "check", "--format", "json", "--no-probe", "--url", url, "--run-dir", box.run_dir
        )
    kinds = {f["kind"] for f in json.loads(proc.stdout)["findings"]}
    assert "missing-entry" not in kinds


# --------------------------------------------------------------------------- races


def _run_check(url: str, box: Sandbox, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    """``aardcheck check --format json`` in this process (so a test can patch the host)."""
    from aardcheck.cli import app as cli
    from aardcheck.cli.common import OutputFormat

    with pytest.raises(SystemExit) as ended:
        cli.check(no_probe=True, url=url, run_dir=box.run_dir, output=OutputFormat.json)
    out = capsys.readouterr()
    assert isinstance(ended.value.code, int)
    return ended.value.code, json.loads(out.out) if out.out else out.err


def test_file_deleted_between_listing_and_reading(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_listdir = os.listdir

    def list_then_delete(fd: Any) -> list[str]:
        names = real_listdir(fd)
        if isinstance(fd, int) and NET in names:
            (box.dns_dir / NET).unlink(missing_ok=True)  # netavark removed it meanwhile
        return names

    monkeypatch.setattr(os, "listdir", list_then_delete)
    with box.api(box.fake()) as url:
        code, doc = _run_check(url, box, capsys)
    assert code == ExitCode.FINDINGS  # never clean: that file was not checked
    (gone,) = [f for f in doc["findings"] if f["kind"] == "unchecked"]
    assert gone["path"] == str(box.dns_dir / NET) and "vanished" in gone["message"]
    assert not (box.dns_dir / NET).exists()  # nothing re-created it


#: What the writer leaves: another container's line first, so its first half differs.
NEW_CONTENT = f"{GATEWAY}\n{'f' * 64} 10.99.7.5  new\n".encode() + WEB_LINE


def _rewrite_in_place(path: Path, content: bytes) -> None:
    """What netavark's teardown does: truncate the file and write it again, no lock."""
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(content)


def _tearing_reader(
    real: Callable[..., bytes], target: Path, rewrites: int
) -> Callable[..., bytes]:
    """os.read/os.pread that, at the start of a read of ``target``, returns half of it and
    then has it rewritten in place (the first ``rewrites`` times, each time a little
    longer): a torn read if taken as is."""
    state = {"left": rewrites}

    def read(fd: int, size: int, *offset: int) -> bytes:
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(target))
            at_start = (offset[0] if offset else os.lseek(fd, 0, os.SEEK_CUR)) == 0
        except OSError:
            same = at_start = False
        if not same or not at_start or state["left"] <= 0:
            return real(fd, size, *offset)
        state["left"] -= 1
        half = real(fd, max(1, min(size, os.fstat(fd).st_size // 2)), *offset)
        _rewrite_in_place(target, NEW_CONTENT + b"\n" * (rewrites - state["left"]))
        return half

    return read


def test_file_rewritten_while_being_read_is_read_again(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = box.dns_dir / NET
    monkeypatch.setattr(os, "read", _tearing_reader(os.read, target, 1))
    (parsed,) = read_dns_directory(RunDir(box.run_dir, Scope.ROOTFUL, 0), V1_4).files
    monkeypatch.undo()
    assert parsed.content == target.read_bytes() == NEW_CONTENT + b"\n"
    assert parsed.defect is None and [e.container_id for e in parsed.entries] == ["f" * 64, WEB.id]


def test_file_that_keeps_changing_is_reported_unchecked(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = box.dns_dir / NET
    monkeypatch.setattr(os, "read", _tearing_reader(os.read, target, 1000))
    directory = read_dns_directory(RunDir(box.run_dir, Scope.ROOTFUL, 0), V1_4)
    monkeypatch.undo()
    assert directory.files == ()
    (entry,) = directory.unreadable
    assert "changing while being read" in entry.reason and not entry.breaks_aardvark


def _access(box: Sandbox, fresh: Callable[[], tuple[Any, ...]] | None = None) -> HostAccess:
    from aardcheck.sources.podman_json import containers_from_compat

    state = containers_from_compat([OLD.compat(), WEB.compat()])
    return HostAccess(
        run_dir=RunDir(box.run_dir, Scope.ROOTLESS, os.stat(box.run_dir).st_uid),
        version=V1_4,
        podman_lock=box.graph_root / "networks" / "netavark.lock",
        network_config_dir=box.graph_root / "networks",
        fresh_containers=fresh or (lambda: state),
        lock_timeout=2.0,
    )


def prune_old(box: Sandbox) -> RepairPlan:
    action = PruneLines(NET, str(box.dns_dir / NET), OLD.id, ("old",), (3,), "stopped-entry")
    return RepairPlan((action,), ())


def test_repair_never_acts_on_a_torn_read(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that ignores the locks rewrites the file while the repair reads it: the
    repair must not write back a mix of both versions."""

    target = box.dns_dir / NET
    monkeypatch.setattr(os, "pread", _tearing_reader(os.pread, target, 1))
    (change,) = apply_plan(prune_old(box), _access(box))
    monkeypatch.undo()
    assert change.status == "skipped" and "changed while being read" in change.detail
    assert target.read_bytes() == NEW_CONTENT + b"\n"  # the writer's version, whole


# --------------------------------------------------------------------------- encodings

HEADER = f"{GATEWAY}\n".encode()
STRAY = b"e" * 64  # a container id podman does not know


@pytest.mark.parametrize(
    ("name", "content", "kind", "says", "shown"),
    [
        ("fbom", b"\xef\xbb\xbf" + HEADER + WEB_LINE, "unparsable-file", "byte-order mark", ""),
        ("fcrlf", (HEADER + WEB_LINE).replace(b"\n", b"\r\n"), "unparsable-file", "CRLF", ""),
        ("fbin", HEADER + STRAY + b" 10.99.7.9  caf\xe9\n", "unparsable-file", "UTF-8", ""),
        ("fnul", HEADER + STRAY + b" 10.99.7.9\x00  x\n", "unparsable-file", "IPv4", "\\x00"),
        (
            "fnulname",
            HEADER + STRAY + b" 10.99.7.9  a\x00b\x1b[2J\n",
            "orphan-file",
            "a\x00b\x1b[2j",  # names are lower-cased, as aardvark does
            "a\\x00b\\x1b[2j",
        ),
        (b"caf\xe9", HEADER + WEB_LINE, "unparsable-file", "name is not valid UTF-8", "\\udce9"),
    ],
    ids=["bom", "crlf", "non-utf8-content", "nul-in-address", "nul-in-name", "non-utf8-name"],
)
def test_odd_encodings_are_named_and_shown_escaped(
    box: Sandbox, name: str | bytes, content: bytes, kind: str, says: str, shown: str
) -> None:
    path = box.write(name, content)
    before = box.state()
    with box.api(box.fake()) as url:
        base = ("check", "--no-probe", "--url", url, "--run-dir", box.run_dir)
        as_json = box.run(*base, "--format", "json")
        as_text = box.run(*base)
    assert as_json.returncode == as_text.returncode == ExitCode.FINDINGS, as_json.stderr
    assert as_json.stderr == as_text.stderr == ""
    found = [f for f in json.loads(as_json.stdout)["findings"] if f["path"] == str(path)]
    assert any(f["kind"] == kind and says in f["message"] for f in found), found
    # text: every line printable (control bytes, NUL and undecodable names escaped)
    assert all(line.isprintable() for line in as_text.stdout.splitlines()), as_text.stdout
    assert kind in as_text.stdout and shown in as_text.stdout
    assert box.state() == before


def test_fix_keeps_every_odd_byte_and_will_not_reload_over_a_bad_sibling(box: Sandbox) -> None:
    """The stale line goes; every other byte (undecodable, NUL, CR) stays; a sibling that
    aardvark 1.4 would refuse blocks the SIGHUP (it would stop DNS for every network).
    aardvark 1.14 skips such a file and serves the rest: the reload goes ahead, and the
    bad sibling stays a finding."""
    odd_live = f"{WEB.id} 10.99.7.2  web,app,".encode() + b"\xff\x00\r\n"
    (box.dns_dir / NET).write_bytes(HEADER + odd_live + OLD_LINE)
    bad = box.write("fbad", b"\xef\xbb\xbf" + HEADER)
    fake = box.fake()
    fake.networks.append(network_json("fbad", "10.99.8.0/24", "10.99.8.1"))
    (box.graph_root / "networks" / "fbad.json").write_text("{}")
    with box.api(fake) as url:
        proc = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    assert (box.dns_dir / NET).read_bytes() == HEADER + odd_live
    assert bad.read_bytes() == b"\xef\xbb\xbf" + HEADER
    if not installed_aardvark_version().skips_bad_files:  # what a reload signals
        assert proc.returncode == ExitCode.REPAIR_INCOMPLETE, proc.stdout + proc.stderr
        assert "not reloading aardvark-dns" in proc.stderr and str(bad) in proc.stderr
    else:
        assert proc.returncode == ExitCode.FINDINGS, proc.stdout + proc.stderr
        assert "not reloading" not in proc.stderr
        assert "unparsable-file fbad" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- size


def test_a_100_mb_file_is_refused_with_a_message(box: Sandbox) -> None:
    big = box.dns_dir / "big"
    with open(big, "wb") as fh:
        fh.truncate(100 * 1024 * 1024)  # sparse: 100 MB of NUL bytes
    before = box.state()

    tracemalloc.start()
    started = time.monotonic()
    directory = read_dns_directory(RunDir(box.run_dir, Scope.ROOTFUL, 0), V1_4)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    (entry,) = [u for u in directory.unreadable if u.path == big]
    assert f"over the {MAX_FILE_BYTES}-byte limit" in entry.reason
    assert peak < 4 * 1024 * 1024 and elapsed < 2.0, (peak, elapsed)

    with box.api(box.fake()) as url:
        started = time.monotonic()
        proc = box.run(
            "check", "--format", "json", "--no-probe", "--url", url, "--run-dir", box.run_dir
        )
        elapsed = time.monotonic() - started
    assert proc.returncode == ExitCode.FINDINGS and elapsed < 30
    (about,) = [f for f in json.loads(proc.stdout)["findings"] if f["path"] == str(big)]
    assert about["kind"] == "unchecked" and "limit" in about["message"]

    one = box.run("lint", big)
    assert one.returncode == ExitCode.ENVIRONMENT and "limit" in one_error_line(one)
    whole = box.run("lint", box.dns_dir)
    assert whole.returncode == ExitCode.FINDINGS and "UNCHECKED" in whole.stdout
    assert box.state() == before
