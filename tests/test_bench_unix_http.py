"""The stdlib HTTP client for podman's socket: the body framings Go's server uses, keep-alive,
a server that closed an idle connection, and replies that are not HTTP at all."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.unix_http import HttpError, UnixHttp

Handler = Callable[[socket.socket, bytes], bool]  # request bytes -> keep the connection?


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        data += chunk
    return data


@contextmanager
def serve(tmp_path: Path, handler: Handler) -> Iterator[tuple[str, list[bytes]]]:
    """A unix socket server answering each request with ``handler``; logs requests."""
    path = tmp_path / "api.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(4)
    listener.settimeout(0.05)
    seen: list[bytes] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                while True:
                    request = _read_request(conn)
                    if not request:
                        break
                    seen.append(request)
                    if not handler(conn, request):
                        break

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield str(path), seen
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def _reply(body: bytes, *, status: str = "200 OK", extra: str = "") -> Handler:
    def handler(conn: socket.socket, request: bytes) -> bool:
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        conn.sendall(head.encode() + body)
        return "Connection: close" not in extra

    return handler


def test_content_length_body_and_keep_alive(tmp_path: Path) -> None:
    with serve(tmp_path, _reply(b'{"a": 1}')) as (path, seen):
        client = UnixHttp(path, 5)
        assert client.request("GET", "/x").json() == {"a": 1}
        assert client.request("GET", "/y?all=true").status == 200
        client.close()
    assert [r.split(b"\r\n", 1)[0] for r in seen] == [
        b"GET /x HTTP/1.1",
        b"GET /y?all=true HTTP/1.1",
    ]


def test_chunked_body(tmp_path: Path) -> None:
    def handler(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4;ext=1\r\n[1, \r\n3\r\n2]\n\r\n0\r\nTrailer: x\r\n\r\n"
        )
        return True

    with serve(tmp_path, handler) as (path, _):
        client = UnixHttp(path, 5)
        assert client.request("GET", "/x").json() == [1, 2]
        assert client.request("GET", "/x").json() == [1, 2]  # the connection is still good
        client.close()


def test_body_until_close(tmp_path: Path) -> None:
    def handler(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nOK")
        return False

    with serve(tmp_path, handler) as (path, seen):
        client = UnixHttp(path, 5)
        assert client.request("GET", "/_ping").body == b"OK"
        assert client.request("GET", "/_ping").body == b"OK"  # reconnected
        client.close()
    assert len(seen) == 2


def test_a_get_is_sent_again_when_the_kept_connection_was_closed(tmp_path: Path) -> None:
    answered: list[int] = []

    def handler(conn: socket.socket, request: bytes) -> bool:
        if not answered:
            answered.append(1)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
            return False  # the server drops the connection it advertised as kept alive
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        return True

    with serve(tmp_path, handler) as (path, _):
        client = UnixHttp(path, 5)
        assert client.request("GET", "/x").body == b"1"
        assert client.request("GET", "/x").body == b"2"
        client.close()


def test_error_status_and_podman_message(tmp_path: Path) -> None:
    body = b'{"cause": "short", "message": "database is locked", "response": 500}'
    with serve(tmp_path, _reply(body, status="500 Internal Server Error")) as (path, _):
        reply = UnixHttp(path, 5).request("GET", "/x")
    assert reply.status == 500 and reply.message() == "database is locked"


def test_not_http_and_no_answer(tmp_path: Path) -> None:
    def garbage(conn: socket.socket, request: bytes) -> bool:
        conn.sendall(b"SSH-2.0-OpenSSH\r\n")
        return False

    with serve(tmp_path, garbage) as (path, _), pytest.raises(HttpError, match="not an HTTP"):
        UnixHttp(path, 5).request("GET", "/x")

    def hang_up(conn: socket.socket, request: bytes) -> bool:
        return False

    other = tmp_path / "other"
    other.mkdir()
    with serve(other, hang_up) as (path, _), pytest.raises(HttpError, match="closed"):
        UnixHttp(path, 5).request("GET", "/x")


def test_nothing_listening(tmp_path: Path) -> None:
    with pytest.raises(HttpError, match="cannot connect"):
        UnixHttp(str(tmp_path / "absent.sock"), 1).request("GET", "/_ping")


def test_timeout_is_an_http_error(tmp_path: Path) -> None:
    def silent(conn: socket.socket, request: bytes) -> bool:
        threading.Event().wait(1.0)
        return False

    with serve(tmp_path, silent) as (path, _), pytest.raises(HttpError):
        UnixHttp(path, 0.2).request("GET", "/x")
