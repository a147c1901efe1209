"""The listings asked before a cold command's imports (``sources.prefetch``): the session
takes each reply once, for the same socket and request only, and asks itself for
anything else; a listing older than a change of the run directory is asked again."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aardcheck.models import DnsDirectory, NetworkFile, RunDir, Scope
from aardcheck.runner import check as runner
from aardcheck.sources import podman_api, prefetch

LISTING = b'[{"Id": "%s"}]'


class FakePodman:
    """A podman API on a unix socket that answers the four GETs of a check and records
    every request line (one request per connection: the prefetch closes them)."""

    def __init__(self, path: Path, version: str = "4.3.1") -> None:
        self.path, self.version = path, version
        self.asked: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(path))
        self._sock.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while line := reader.readline():
                target = line.split()[1].decode()
                close = False
                while (header := reader.readline()) not in (b"\r\n", b""):
                    close |= header.lower().startswith(b"connection: close")
                self.asked.append(target)
                body = b"OK" if target.endswith("/_ping") else b"[]"
                head = (
                    f"HTTP/1.1 200 OK\r\nLibpod-Api-Version: {self.version}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                conn.sendall(head.encode() + body)
                if close:
                    return

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def podman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePodman]:
    monkeypatch.setattr(prefetch, "_started", [])
    server = FakePodman(tmp_path / "podman.sock")
    yield server
    server.close()


def session_for(server: FakePodman) -> podman_api.PodmanSession:
    return podman_api.PodmanSession(f"unix://{server.path}", timeout=5, private=False)


def test_a_check_takes_the_prefetched_replies_once(podman: FakePodman) -> None:
    prefetch.begin(str(podman.path))
    session = session_for(podman)
    try:
        assert session.ping()
        before = time.time()
        session.state(early=True)
        asked = list(podman.asked)
        assert sorted(asked) == sorted(
            [prefetch.PING_TARGET, *prefetch.listing_targets(podman.version)]
        )
        assert session.prefetched_at is not None and session.prefetched_at <= before
        session.state(early=True)  # taken once: now the session asks
        assert len(podman.asked) == len(asked) + 3
        assert session.prefetched_at is None
    finally:
        session.close()


def test_only_a_first_listing_takes_them(podman: FakePodman) -> None:
    prefetch.begin(str(podman.path))
    session = session_for(podman)
    try:
        assert session.ping()
        session.state()  # not early (the watcher, a repair): asks itself
        assert session.prefetched_at is None
        assert podman.asked.count("/v1.40/containers/json?all=true") == 2
    finally:
        session.close()


def test_another_socket_or_version_is_asked_directly(
    podman: FakePodman, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefetch.begin(str(tmp_path / "elsewhere.sock"))  # never appears: bounded wait
    monkeypatch.setattr(prefetch, "WAIT_SOCKET", 0.1)
    session = session_for(podman)
    try:
        assert session.ping()
        session.state(early=True)
        assert session.prefetched_at is None
        assert len(podman.asked) == 4
    finally:
        session.close()


def test_a_socket_nobody_listens_on_costs_no_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefetch, "_started", [])
    dead = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(dead))  # a socket file, not listening
    prefetch.begin(str(dead))
    started = time.monotonic()
    assert prefetch.take(str(dead), prefetch.PING_TARGET, 5) is None
    assert time.monotonic() - started < 2


def _directory(tmp_path: Path) -> DnsDirectory:
    dns = tmp_path / "networks" / "aardvark-dns"
    dns.mkdir(parents=True)
    path = dns / "net1"
    path.write_bytes(b"10.89.0.1\n")
    run_dir = RunDir(tmp_path / "networks", Scope.ROOTFUL, 0)
    file = NetworkFile(path, "net1", False, b"", None, ())
    return DnsDirectory(run_dir=run_dir, exists=True, files=(file,), unreadable=())


def test_a_listing_older_than_a_file_change_counts_as_changed(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    old = time.time() - 10
    for p in (directory.run_dir.dns_dir, directory.files[0].path):
        os.utime(p, (old, old))
    assert not runner._changed_since(directory, time.time())
    directory.files[0].path.write_bytes(b"10.89.0.1\nabc 10.89.0.5  web\n")  # netavark adds a line
    assert runner._changed_since(directory, time.time() - 1)
    directory.files[0].path.unlink()
    assert runner._changed_since(directory, time.time() + 10)


def test_gather_asks_again_when_a_file_changed_after_the_prefetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.runner.test_partial import INFO
    from tests.scenario_loader import load_scenario

    snapshot = load_scenario("healthy")
    directory = _directory(tmp_path)
    monkeypatch.setattr(runner, "read_dns_directory", lambda run_dir, version: directory)
    monkeypatch.setattr(runner, "_liveness", lambda s, info, timeout, source: ())
    calls: list[bool] = []

    class Session:
        prefetched_at: float | None = None

        def state(self, *, early: bool = False) -> Any:
            calls.append(early)
            self.prefetched_at = (time.time() - 5) if early else None
            return snapshot.podman

    options = runner.CheckOptions(probe=False, aardvark_version=snapshot.aardvark_version)
    runner.gather(Session(), options, INFO)  # type: ignore[arg-type]
    assert calls == [True, False]  # the file is newer than the prefetched listing
    old = time.time() - 60
    os.utime(directory.files[0].path, (old, old))
    os.utime(directory.run_dir.dns_dir, (old, old))
    calls.clear()
    runner.gather(Session(), options, INFO)  # type: ignore[arg-type]
    assert calls == [True]


def test_the_socket_asked_first_is_the_urls_or_the_default_or_the_private_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aardcheck.cli import fast
    from aardcheck.sources import private_service

    monkeypatch.setattr(private_service, "prestart", lambda: "/run/podman/podman.sock")
    assert fast._first_socket(None) == "/run/podman/podman.sock"
    assert fast._first_socket("unix:///tmp/x//api.sock") == "/tmp/x/api.sock"
    assert fast._first_socket("tcp://127.0.0.1:8080") is None
    assert fast._first_socket("ssh://core@host/run/podman/podman.sock") is None


def test_a_prefetch_is_found_under_the_sessions_spelling_of_the_path(podman: FakePodman) -> None:
    prefetch.begin(f"{podman.path.parent}//./{podman.path.name}")
    assert prefetch.take(str(podman.path), prefetch.PING_TARGET, 5) is not None
