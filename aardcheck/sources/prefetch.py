"""podman's listings asked before a cold command's imports: the check's head start.

A cold ``check``, ``clean`` or ``preflight`` spends 60-80 ms importing what it needs, and
podman as long or longer producing its listings (200 containers: 370-530 ms; issue 12,
docs/benchmarks.md). ``begin`` sends the requests a check starts with - the ping, then
both container listings and the network listing side by side, each on its own
connection - as soon as argv is parsed. ``PodmanSession`` takes a reply instead of
asking when the socket and the request are the same, once; anything else (no reply, an
error, another version in the path) it asks itself. Only a check's first listing is
taken (``runner.check.gather``), and a listing asked before a file of the run directory
last changed is asked again there: a prefetched listing is older than one asked while
the files are read.

Stdlib only, ``_socket`` rather than ``socket`` (its ``enum`` import): this runs before
the imports it overlaps. Replies are raw bytes read until podman closes the connection
(``Connection: close``), parsed by ``unix_http``.
"""

from __future__ import annotations

import _socket
import os
import threading
import time

#: The libpod API version a path names before podman has said its own (its ``_ping``
#: does); any podman since 4.0 serves it.
LIBPOD_FALLBACK = "4.0.0"
#: The libpod path of ``/_ping`` before any header is known (``PodmanSession._target``).
PING_TARGET = f"/v{LIBPOD_FALLBACK}/libpod/_ping"
#: Longest wait for podman in the prefetch: the socket file of a private service to
#: appear, and each reply (a longer one is asked again by the session, with its timeout).
WAIT_SOCKET = 5.0
WAIT_REPLY = 30.0
#: Largest reply kept (as ``unix_http``'s limit).
MAX_REPLY = 512 * 1024 * 1024


def listing_targets(libpod_version: str) -> tuple[str, ...]:
    """The targets of ``PodmanSession.state``'s three GETs, for podman's libpod version."""
    libpod = f"/v{libpod_version}/libpod"
    return (
        f"{libpod}/containers/json?all=true",
        "/v1.40/containers/json?all=true",
        f"{libpod}/networks/json",
    )


class Prefetch:
    """The requests sent to one socket, and their replies as they come."""

    def __init__(self, path: str) -> None:
        self.path = path
        #: wall-clock time the listings were sent (compared with the files' mtimes)
        self.asked_at: float | None = None
        self._replies: dict[str, bytes | None] = {}
        self._done: dict[str, threading.Event] = {PING_TARGET: threading.Event()}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="aardcheck-prefetch", daemon=True).start()

    def take(self, target: str, timeout: float) -> bytes | None:
        """The raw reply to ``target`` (once), waiting up to ``timeout`` for it."""
        with self._lock:
            done = self._done.get(target)
        if done is None or not done.wait(timeout):
            return None
        with self._lock:
            return self._replies.pop(target, None)

    def _run(self) -> None:
        deadline = time.monotonic() + WAIT_SOCKET
        while not os.path.exists(self.path) and time.monotonic() < deadline:
            time.sleep(0.005)  # a private service that has not bound its socket yet
        # one try: a socket nobody listens on is the session's to report (or to replace)
        ping = _get(self.path, PING_TARGET)
        version = _libpod_version(ping) if ping is not None else None
        if version is not None:
            targets = listing_targets(version)
            with self._lock:
                self._done.update((t, threading.Event()) for t in targets)
            self.asked_at = time.time()
            for target in targets:
                threading.Thread(target=self._fetch, args=(target,), daemon=True).start()
        self._store(PING_TARGET, ping)

    def _fetch(self, target: str) -> None:
        self._store(target, _get(self.path, target))

    def _store(self, target: str, reply: bytes | None) -> None:
        with self._lock:
            self._replies[target] = reply
            self._done[target].set()


def _get(path: str, target: str) -> bytes | None:
    """The whole raw reply to a GET, or None when there is none."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(WAIT_REPLY)
        sock.connect(path)
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode())
        chunks, size = [], 0
        while chunk := sock.recv(1 << 18):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY:
                return None
        return b"".join(chunks) or None
    except OSError:
        return None
    finally:
        sock.close()


def _libpod_version(reply: bytes) -> str | None:
    """``Libpod-Api-Version`` of a successful reply, if it is a plain version string."""
    head = reply.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    if not head or " 200 " not in f"{head[0]} ":
        return None
    for line in head[1:]:
        name, _, value = line.partition(":")
        version = value.strip()
        if name.strip().lower() == "libpod-api-version" and version[:1].isdigit():
            return version if all(c.isalnum() or c in ".-" for c in version) else None
    return None


#: the prefetch of this run (at most one: a command checks one podman)
_started: list[Prefetch] = []


def begin(path: str) -> None:
    """Start asking the podman API at ``path`` (a unix socket) for a check's listings."""
    if not _started:
        _started.append(Prefetch(path))


def _on(path: str) -> Prefetch | None:
    same = _started and os.path.normpath(_started[0].path) == os.path.normpath(path)
    return _started[0] if same else None


def take(path: str, target: str, timeout: float) -> bytes | None:
    """The prefetched raw reply to ``target`` on ``path``; None when none was asked."""
    current = _on(path)
    return current.take(target, timeout) if current is not None else None


def asked_at(path: str) -> float | None:
    """When the listings on ``path`` were sent (None: nothing was prefetched there)."""
    current = _on(path)
    return current.asked_at if current is not None else None
