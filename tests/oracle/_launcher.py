"""Start ``aardvark-dns run`` inside a test netns and report its fate as JSON lines.

Run as ``ip netns exec NS python3 _launcher.py CAPTURE CONFIG_DIR PORT BINARY``.
``ip netns exec`` gives this process a private mount namespace (slave of the host's);
in it, ``/dev/null`` is bind-mounted over the regular file CAPTURE, because aardvark
1.4's daemon re-opens ``/dev/null`` by path for its stdin/stdout/stderr, and the
reason of a rejected configuration only ever goes to that stdout.

The launcher makes itself a child subreaper, so the daemon (orphaned by its forking
parent) becomes its child: its exit status can be collected and no zombie is left.
Events on stdout: ``started`` (the forking parent's exit and output, the daemon's pid)
and ``exited`` (the daemon's status and captured output). A line ``stop`` or EOF on
stdin terminates the daemon. Standard library only: it runs outside pytest.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def emit(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def private_mounts() -> bool:
    """True when this process does not share its parent's (the test's) mount namespace.

    ``ip netns exec`` execs us, so our parent is the process that ran ``ip``.
    """
    return os.readlink("/proc/self/ns/mnt") != os.readlink(f"/proc/{os.getppid()}/ns/mnt")


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def read_pid(config_dir: str) -> int | None:
    try:
        with open(os.path.join(config_dir, "aardvark.pid"), "rb") as fh:
            text = fh.read(32).strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_capture(capture: str) -> str:
    with open(capture, "rb") as fh:
        return fh.read(65536).decode("utf-8", "replace")


def reap(pid: int | None, capture: str) -> bool:
    """Collect any exited child; True (after reporting) when it was the daemon."""
    while True:
        try:
            child, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # the daemon is not our child (or never started)
            if pid is not None and os.path.exists(f"/proc/{pid}"):
                return False
            emit("exited", pid=pid, status=None, output=read_capture(capture))
            return True
        if child == 0:
            return False
        if pid is None or child == pid:  # None: it exited before we read aardvark.pid
            code = os.waitstatus_to_exitcode(status)
            emit("exited", pid=child, status=code, output=read_capture(capture))
            return True


def stop(pid: int | None, capture: str) -> None:
    if pid is None:
        return
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if reap(pid, capture):
                return
            time.sleep(0.02)


def main(capture: str, config_dir: str, port: str, binary: str) -> int:
    if not private_mounts():
        emit("error", message="not in a private mount namespace; refusing to bind /dev/null")
        return 2
    become_subreaper()
    stdin_fd = os.open("/dev/null", os.O_RDONLY)  # the real one, before the bind mount
    subprocess.run(["mount", "--bind", capture, "/dev/null"], check=True)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "AARDVARK_NO_PROXY": "1", "RUST_LOG": "info"}
    parent = subprocess.run(
        [binary, "--config", config_dir, "-p", port, "run"],
        stdin=stdin_fd,
        capture_output=True,
        env=env,
        timeout=20,
        check=False,
    )
    pid = read_pid(config_dir)
    emit(
        "started",
        rc=parent.returncode,
        pid=pid,
        stdout=parent.stdout.decode("utf-8", "replace"),
        stderr=parent.stderr.decode("utf-8", "replace"),
    )
    while True:
        if reap(pid, capture):
            return 0
        ready, _, _ = select.select([sys.stdin], [], [], 0.02)
        if ready and sys.stdin.readline().strip() in ("", "stop"):
            stop(pid, capture)
            return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
