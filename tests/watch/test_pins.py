"""pins: which network namespaces a process holds, read from /proc (no podman needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

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
