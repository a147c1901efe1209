"""``aardvark.pid`` empty, garbage, stale, a FIFO, a symlink, or naming a live process
that is not this directory's aardvark-dns: that process is never signalled, and reading
the pid file never blocks or reads without bound."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aardcheck.errors import ExitCode
from aardcheck.models import AardvarkVersion, RunDir, Scope
from aardcheck.repair.resolver import ReloadOutcome, reload_resolver
from aardcheck.sources.aardvark_files import read_dns_directory
from tests.faults.sandbox import NET_FILE, OLD_LINE, Sandbox, make_sandbox
from tests.realpodman import wait_until

V1_4 = AardvarkVersion(1, 4)
#: A process that calls itself aardvark-dns (comm) and records every SIGHUP it gets.
IMPOSTOR = """
import ctypes, signal, sys, threading
ctypes.CDLL(None).prctl(15, b"aardvark-dns", 0, 0, 0)  # PR_SET_NAME: /proc/PID/comm
log = sys.argv[-1]
def hup(*_):
    with open(log, "a") as fh:
        fh.write("HUP\\n")
signal.signal(signal.SIGHUP, hup)
open(log + ".ready", "w").close()
threading.Event().wait(120)
"""


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def _reload(box: Sandbox) -> ReloadOutcome:
    directory = read_dns_directory(RunDir(box.run_dir, Scope.ROOTFUL, 0), V1_4)
    return reload_resolver(directory, V1_4)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not aardvark-dns; SIGHUP would end it."""
    proc = subprocess.Popen(["sleep", "120"])
    comm = Path(f"/proc/{proc.pid}/comm")
    try:  # until it has exec'd (a vfork child briefly still looks like python)
        wait_until(lambda: comm.read_text().strip() == "sleep", timeout=20, what="sleep to run")
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _impostor(tmp_path: Path, config: Path, label: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / f"hup-{label}.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", IMPOSTOR, "--config", str(config), str(log)],
        stdin=subprocess.DEVNULL,
    )
    wait_until(lambda: Path(f"{log}.ready").exists(), timeout=20, what="the impostor to start")
    return proc, log


@pytest.mark.parametrize(
    "content",
    [b"", b"\n", b"garbage", b"12abc", b"-5", b"0", b"1", b"99999999999999999999", b"\x00\xff"],
    ids=[
        "empty",
        "newline",
        "garbage",
        "digits-then-junk",
        "negative",
        "zero",
        "init",
        "huge",
        "binary",
    ],
)
def test_unusable_pid_file_is_never_signalled(box: Sandbox, content: bytes) -> None:
    box.write("aardvark.pid", content)
    outcome = _reload(box)
    assert outcome.status == "failed" and outcome.pid is None
    assert "holds no usable process id" in outcome.reason


def test_no_pid_file_means_nothing_to_reload(box: Sandbox) -> None:
    outcome = _reload(box)
    assert outcome.status == "skipped" and "no aardvark-dns pid file" in outcome.reason


def test_stale_pid_is_not_running(box: Sandbox) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=10)
    box.write("aardvark.pid", str(gone.pid).encode())
    outcome = _reload(box)
    assert (outcome.status, outcome.pid) == ("skipped", gone.pid)
    assert "not running" in outcome.reason


def test_exited_but_unreaped_aardvark_is_not_running(box: Sandbox, tmp_path: Path) -> None:
    """aardvark-dns 1.14 whose start failed stays a zombie where nothing reaps it (seen in
    the podman 5 lane): nothing to reload, never "an aardvark-dns for another directory"."""
    dead, _ = _impostor(tmp_path, box.dns_dir, "failed-start")
    os.kill(dead.pid, signal.SIGKILL)
    wait_until(lambda: _state(dead.pid) == "Z", timeout=10, what="a zombie")
    try:
        box.write("aardvark.pid", str(dead.pid).encode())
        outcome = _reload(box)
    finally:
        dead.wait(timeout=10)
    assert (outcome.status, outcome.pid) == ("skipped", dead.pid)
    assert "exited" in outcome.reason


def _state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :][:1]


def test_live_process_that_is_not_aardvark_is_never_signalled(
    box: Sandbox, sleeper: subprocess.Popen[bytes]
) -> None:
    box.write("aardvark.pid", f"{sleeper.pid}\n".encode())
    outcome = _reload(box)
    assert outcome.status == "failed" and "'sleep', not aardvark-dns" in outcome.reason
    assert sleeper.poll() is None  # SIGHUP would have ended it


def test_aardvark_of_another_directory_is_never_signalled(box: Sandbox, tmp_path: Path) -> None:
    other = tmp_path / "other" / "aardvark-dns"
    other.mkdir(parents=True)
    stranger, stranger_log = _impostor(tmp_path, other, "stranger")
    ours, our_log = _impostor(tmp_path, box.dns_dir, "ours")
    try:
        box.write("aardvark.pid", str(stranger.pid).encode())
        outcome = _reload(box)
        assert outcome.status == "failed" and "another directory" in outcome.reason
        # the positive control: the same process kind serving this directory is signalled
        box.write("aardvark.pid", str(ours.pid).encode())
        assert _reload(box).status == "done"
        wait_until(our_log.exists, timeout=20, what="the SIGHUP to arrive")
        assert not stranger_log.exists()
    finally:
        for proc in (stranger, ours):
            proc.kill()
            proc.wait(timeout=10)


def _bounded(call: object, seconds: float) -> None:
    """Run ``call`` in a thread; fail (instead of hanging) if it does not return in time."""
    assert callable(call)
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(seconds), f"still running after {seconds} s"


def test_pid_file_that_is_a_fifo_never_blocks(box: Sandbox) -> None:
    os.mkfifo(box.dns_dir / "aardvark.pid")
    outcomes: list[ReloadOutcome] = []
    _bounded(lambda: outcomes.append(_reload(box)), 10)
    assert outcomes[0].status == "failed" and outcomes[0].pid is None


def test_pid_file_symlinked_to_an_endless_file_is_not_read(box: Sandbox) -> None:
    (box.dns_dir / "aardvark.pid").symlink_to("/dev/zero")
    outcomes: list[ReloadOutcome] = []
    _bounded(lambda: outcomes.append(_reload(box)), 10)
    assert outcomes[0].status == "failed" and outcomes[0].pid is None


def test_pid_file_symlinked_to_a_live_pid_is_not_followed(
    box: Sandbox, tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    elsewhere = tmp_path / "pid"
    elsewhere.write_text(str(sleeper.pid))
    (box.dns_dir / "aardvark.pid").symlink_to(elsewhere)
    outcome = _reload(box)
    assert outcome.status == "failed" and outcome.pid is None
    assert sleeper.poll() is None


def test_fix_with_a_pid_of_another_process_prunes_but_never_signals(
    box: Sandbox, sleeper: subprocess.Popen[bytes]
) -> None:
    """End to end: the line goes, the reload is refused and said so, exit 4."""
    box.write("aardvark.pid", str(sleeper.pid).encode())
    with box.api(box.fake()) as url:
        proc = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    assert proc.returncode == ExitCode.REPAIR_INCOMPLETE, proc.stdout + proc.stderr
    assert "failed  reload-resolver" in proc.stderr and "not aardvark-dns" in proc.stderr
    assert OLD_LINE not in (box.dns_dir / "fnet").read_bytes()
    assert (box.dns_dir / "fnet").read_bytes() == NET_FILE.replace(OLD_LINE, b"")
    assert sleeper.poll() is None
    os.kill(sleeper.pid, signal.SIGTERM)
