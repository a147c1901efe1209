"""HTTP/1.1 to podman's REST API on its unix socket, stdlib only.

Why not the ``podman`` package here: a check sends four GETs, and importing the package
(requests, urllib3, and rich through its image manager) costs 100-180 ms of a cold
``aardcheck check`` - more than podman takes to answer all four (docs/benchmarks.md).
What a check needs is small: one kept-alive connection, ``Content-Length``, chunked and
read-to-close bodies. The package is still used where it earns its import: the repair
that re-creates networks, and URLs that are not unix sockets (``tcp://``, ``ssh://``).
"""

from __future__ import annotations

import io
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

#: Longest status or header line accepted, and most header lines.
_MAX_LINE = 64 * 1024
_MAX_HEADERS = 200
#: Largest body accepted (a host with tens of thousands of containers stays far below).
_MAX_BODY = 512 * 1024 * 1024


class HttpError(OSError):
    """The exchange failed: no connection, a hang-up, or a reply that is not HTTP."""

    #: The connection was found closed before any reply: sending again is safe for a GET.
    closed_early = False


class _ClosedEarly(HttpError):
    closed_early = True


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON; raises ValueError."""
        return json.loads(self.body)

    def message(self) -> str:
        """podman's own words for an error (``message``, else ``cause``), else the body."""
        try:
            doc = self.json()
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for key in ("message", "cause"):
                if isinstance(doc.get(key), str) and doc[key]:
                    return str(doc[key])
        text = self.body.decode("utf-8", "replace").strip()
        return text[:300] or self.reason


class UnixHttp:
    """One connection to a unix socket, opened on first use and kept alive.

    Requests are serialised (a lock): the API is asked a handful of things per run. A GET
    whose kept-alive connection turns out to be closed (the server's idle timeout) is
    sent once more on a new one.
    """

    def __init__(self, path: str, timeout: float | None) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpReply:
        """Send one request; the reply, whatever its status. Raises HttpError."""
        head = [f"{method} {target} HTTP/1.1", "Host: d", "User-Agent: aardcheck"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body or b'')}")
        wire = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        with self._lock:
            reused = self._sock is not None
            try:
                return self._exchange(wire, method, timeout)
            except HttpError as exc:
                if not (reused and exc.closed_early and method == "GET"):
                    raise
            return self._exchange(wire, method, timeout)  # the kept-alive one was closed

    def close(self) -> None:
        with self._lock:
            self._drop()

    # ----------------------------------------------------------------------- internals

    def _drop(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._reader = None

    def _connect(self, timeout: float | None) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise HttpError(exc.errno, f"cannot connect to {self.path}: {exc.strerror}") from exc
        self._sock, self._reader = sock, sock.makefile("rb")

    def _exchange(self, wire: bytes, method: str, timeout: float | None) -> HttpReply:
        wait = self.timeout if timeout is None else timeout
        if self._sock is None:
            self._connect(wait)
        assert self._sock is not None
        try:
            self._sock.settimeout(wait)
            try:
                self._sock.sendall(wire)
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise _ClosedEarly(exc.errno, "the server closed the connection") from exc
            reply, keep = ReplyReader(self._reader).read(method)
        except HttpError:
            self._drop()
            raise
        except OSError as exc:  # timeouts included
            self._drop()
            raise HttpError(exc.errno, str(exc) or type(exc).__name__) from exc
        if not keep:
            self._drop()
        return reply


def reply_from_bytes(data: bytes) -> HttpReply:
    """A whole reply read until the server closed the connection (``prefetch``'s)."""
    return ReplyReader(io.BytesIO(data)).read("GET")[0]


class ReplyReader:
    """Reads one HTTP/1.1 reply from a binary stream (a socket's file, or bytes)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def _line(self) -> bytes:
        line: bytes = self._reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise HttpError(0, "a reply line is too long")
        return line

    def read(self, method: str) -> tuple[HttpReply, bool]:
        """The reply, and whether the connection stays open after it."""
        try:
            status_line = self._line()
        except ConnectionResetError as exc:  # the close raced our request: nothing was read
            raise _ClosedEarly(exc.errno, "the server closed the connection") from exc
        if not status_line:
            raise _ClosedEarly(0, "the server closed the connection without answering")
        parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(0, f"not an HTTP reply: {status_line[:80]!r}")
        status, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise HttpError(0, "too many header lines")
        keep = headers.get("connection", "").lower() != "close" and parts[0] != "HTTP/1.0"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._chunked()
        elif "content-length" in headers:
            body = self._exactly(self._length(headers["content-length"]))
        else:
            body, keep = self._reader.read(_MAX_BODY + 1), False
            if len(body) > _MAX_BODY:
                raise HttpError(0, "the reply body is too large")
        return HttpReply(status, reason, headers, body), keep

    @staticmethod
    def _length(text: str) -> int:
        if not text.isdigit() or int(text) > _MAX_BODY:
            raise HttpError(0, f"bad Content-Length {text[:40]!r}")
        return int(text)

    def _exactly(self, size: int) -> bytes:
        data: bytes = self._reader.read(size)
        if len(data) != size:
            raise HttpError(0, f"the reply ended after {len(data)} of {size} bytes")
        return data

    def _chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(0, f"bad chunk size {size_text[:40]!r}") from None
            if size == 0:
                break
            total += size
            if total > _MAX_BODY:
                raise HttpError(0, "the reply body is too large")
            chunks.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk
        while self._line() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return b"".join(chunks)
