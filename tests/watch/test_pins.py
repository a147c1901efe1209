"""pins: which network namespaces a process holds, read from /proc (no podman needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aardcheck.watch.pins import descendants, held_namespaces, service_pid


def test_an_open_netns_fd_is_seen_and_gone_once_closed() -> None:
    before = held_namespaces(os.getpid())
    assert before is not None
    fd = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        held = held_namespaces(os.getpid())
        assert held is not None and len(held) == len(before) + 1
        assert any(t.startswith("net:[") for t in held)
    finally:
        os.close(fd)
    assert held_namespaces(os.getpid()) == before


def test_an_unreadable_process_is_none_not_empty() -> None:
    assert held_namespaces(2**22 + 12345) is None  # beyond pid_max: no such process


def test_service_pid_finds_only_our_own_child_by_its_socket() -> None:
    sock = "/tmp/aardcheck-test-pins/podman.sock"
    code = "import time; time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code, "system service", sock])
    try:
        assert child.pid in descendants(os.getpid())
        deadline = time.monotonic() + 10  # the child's exec may still be under way
        while service_pid(sock) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service_pid(sock) == child.pid
        assert service_pid("/tmp/elsewhere.sock") is None
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"
)
def test_a_netns_fd_whose_mount_is_gone_is_still_seen(tmp_path: Path) -> None:
    """netavark unmounts a removed container's netns file; an fd a podman 4.3 service
    still holds on it then reads as ``/`` in /proc, and still pins the namespace. Done in
    a mount namespace of its own: nothing is mounted on the host."""
    target = tmp_path / "netns-file"
    target.touch()
    script = (
        "import ctypes, os, sys\n"
        "from aardcheck.watch.pins import held_namespaces\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "path = sys.argv[1].encode()\n"
        "assert libc.mount(b'/proc/self/ns/net', path, None, 4096, None) == 0  # MS_BIND\n"
        "before = len(held_namespaces(os.getpid()))\n"
        "fd = os.open(path, os.O_RDONLY)\n"
        "assert libc.umount2(path, 2) == 0  # MNT_DETACH, as netavark's teardown\n"
        "held = held_namespaces(os.getpid())\n"
        "print(os.readlink(f'/proc/self/fd/{fd}'), len(held) - before)\n"
        "os.close(fd)\n"
        "print(len(held_namespaces(os.getpid())) - before)\n"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script,
         str(target)],
        capture_output=True, text=True, timeout=30, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    first, after_close = done.stdout.splitlines()
    assert first == "/ 1"  # shown as "/", and still counted
    assert after_close == "0"
