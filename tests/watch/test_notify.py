"""sd_notify datagrams to a real AF_UNIX socket, and WATCHDOG_USEC handling."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from aardcheck.watch.notify import SystemdNotifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    n = SystemdNotifier({})
    assert not n.enabled
    assert not n.notify("READY=1")
    assert n.next_ping_at() is None


def test_ready_and_watchdog(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    n = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert n.watchdog_interval == 2.0
    n.ready("watching")
    assert sock.recv(256) == b"READY=1\nSTATUS=watching"
    n.ping_if_due(now=100.0)
    assert sock.recv(256) == b"WATCHDOG=1"
    assert n.next_ping_at() == 102.0
    n.ping_if_due(now=101.0)  # not due: nothing sent
    n.stopping()
    assert sock.recv(256) == b"STOPPING=1"


def test_watchdog_meant_for_another_pid_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    assert SystemdNotifier(env).watchdog_interval is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert SystemdNotifier(env).watchdog_interval == 0.5


def test_abstract_socket_name() -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": "@sd-notify"}).address == "\0sd-notify"


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    n = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not n.notify("READY=1")


def test_children_do_not_inherit_the_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    n = SystemdNotifier()
    assert n.address == "/run/systemd/notify"
    assert n.watchdog_interval == 0.5
    assert "NOTIFY_SOCKET" not in os.environ
    assert "WATCHDOG_USEC" not in os.environ
