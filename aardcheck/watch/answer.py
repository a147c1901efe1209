"""The watcher answers ``check``, ``preflight`` and ``clean`` from its current state.

``AnswerState`` keeps what the watcher last saw - the snapshot of its last full check with
the networks of later, narrower checks laid over it - and when each part was looked at.
Every event the watcher receives is recorded too: a part looked at before the latest event
that concerns it is stale, and a stale state answers nothing (the command computes cold).

``AnswerServer`` listens on an owner-only unix socket (``sources.watcher``'s path), one
request per connection, answered on its own thread; ``answer_commands`` computes the reply.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import Scope, Snapshot
from aardcheck.sources.watcher import answer_socket_path, decode_request, encode_reply

#: Largest request accepted (argv, working directory, environment).
MAX_REQUEST = 1 << 20
#: Marks a stale state the watcher may not have been told of (podman's log, the files).
UNSEEN = "unheard: "
#: How far back podman's event log is read at first (events are judged by their time).
LOG_LOOKBACK = 256 * 1024
#: Container events that change no DNS line.
QUIET_EVENTS = frozenset(
    {"exec", "exec_died", "exec_create", "health_status", "attach", "mount", "unmount",
     "commit", "export", "checkpoint", "sync", "pull", "tag"}
)  # fmt: skip
#: A client that does not send its request within this long is dropped.
REQUEST_TIMEOUT = 1.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class View:
    """A fresh state to answer from."""

    snapshot: Snapshot
    context: CheckContext
    #: seconds since the oldest part of the state was looked at
    age_s: float
    #: per network, how long its last check waited for ARP/NDP replies
    liveness_wait: dict[str, float] = field(default_factory=dict)


def _merge(old: Iterable[T], new: Iterable[T], fresh: frozenset[str]) -> tuple[T, ...]:
    """``old``'s items of other networks, then ``new``'s of the ``fresh`` ones."""
    kept = tuple(i for i in old if getattr(i, "network", None) not in fresh)
    return kept + tuple(i for i in new if getattr(i, "network", None) in fresh)


class AnswerState:
    """Thread-safe: events arrive on observer threads, checks finish on the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._context: CheckContext | None = None
        self._full_at = float("-inf")  # start of the last full check
        self._latest_at = float("-inf")  # start of the last check of any scope
        self._net_at: dict[str, float] = {}  # start of the last check covering a network
        self._waited: dict[str, float] = {}  # ARP/NDP wait of the last check of a network
        self._event_all = float("-inf")  # an event that may concern every network
        self._event_net: dict[str, float] = {}
        self._log_pos = 0
        #: container id -> networks it is attached to or has lines in (routes log events)
        self._container_nets: dict[str, frozenset[str]] = {}
        #: networks made stale by the log or the files, not by the watcher's own events
        self._unseen: set[str] = set()

    # ------------------------------------------------------------------ events

    def request(self, networks: frozenset[str] | None) -> None:
        """The watcher was asked to check ``networks`` (None: all)."""
        now = time.monotonic()
        with self._lock:
            if networks is None:
                self._event_all = now
            else:
                for net in networks:
                    self._event_net[net] = now

    def podman_event(self, networks: frozenset[str] | None) -> None:
        """A container event; None: a container the last check did not know, which has
        no line the state could judge (netavark's write of one is a file event)."""
        if networks:
            self.request(networks)

    # ------------------------------------------------------------------ checks

    def checked(
        self,
        result: CheckResult | None,
        scope: frozenset[str] | None,
        started: float,
        liveness_wait: float = float("inf"),
    ) -> None:
        """A check that started at ``started`` succeeded; ``scope`` None: a full check.
        ``liveness_wait``: how long it waited for ARP/NDP replies."""
        if result is None or result.probe_stopped:
            # nothing looked at, or no probe answers to serve: the events behind it keep
            # the state stale
            return
        snap = result.snapshot
        looked_at = (
            {f.network for f in snap.directory.files} | {n.name for n in snap.podman.networks}
            if scope is None
            else set(scope)
        )
        routes: dict[str, set[str]] = {}
        for c in snap.podman.containers:
            routes.setdefault(c.id.lower(), set()).update(a.network for a in c.attachments)
        for f in snap.directory.files:
            for e in f.entries:
                routes.setdefault(e.container_id.lower(), set()).add(f.network)
        with self._lock:
            self._container_nets = {cid: frozenset(n) for cid, n in routes.items()}
            self._latest_at = max(self._latest_at, started)
            self._waited.update(dict.fromkeys(looked_at, liveness_wait))
            self._context = result.context
            self._unseen -= set(scope) if scope is not None else set(self._unseen)
            if scope is None or self._snapshot is None:
                if scope is None:
                    self._full_at = started
                    self._net_at.clear()
                else:
                    self._net_at.update(dict.fromkeys(scope, started))
                self._snapshot = snap
                return
            old, fresh = self._snapshot, frozenset(scope)
            self._snapshot = replace(
                snap,
                selected=old.selected,
                liveness=_merge(old.liveness, snap.liveness, fresh),
                probes=_merge(old.probes, snap.probes, fresh),
                probe_skipped=_merge(old.probe_skipped, snap.probe_skipped, fresh),
                probed=old.probed or snap.probed,
            )
            self._net_at.update(dict.fromkeys(fresh, started))

    def _unseen_changes(self, snap: Snapshot) -> None:
        """Record, as events, changes the watcher may not have been told of yet: podman
        writes its event log and netavark the files before the event stream and inotify
        deliver them (a stale line can be ~1 s old before the watcher hears of it)."""
        offset = time.time() - time.monotonic()
        run_dir = snap.directory.run_dir
        for log in _event_logs(run_dir.scope == Scope.ROOTFUL, run_dir.uid):
            with contextlib.suppress(OSError):
                self._read_event_log(log, offset)
                break
        try:
            entries = list(os.scandir(run_dir.dns_dir))
        except OSError:
            return
        for entry in entries:
            with contextlib.suppress(OSError):
                at = entry.stat(follow_symlinks=False).st_mtime - offset
                if at > self._event_net.get(entry.name, float("-inf")):
                    self._event_net[entry.name] = at
                    self._unseen.add(entry.name)

    def _read_event_log(self, log: Path, offset: float) -> None:
        """Newly logged container and network events count (execs, health checks, image
        pulls do not): by their own time, so reading a line twice changes nothing."""
        with open(log, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < self._log_pos or not self._log_pos:
                self._log_pos = max(0, size - LOG_LOOKBACK)  # first look, or rotated
            fh.seek(self._log_pos)
            data = fh.read(size - self._log_pos)
        complete = data.rfind(b"\n") + 1
        self._log_pos += complete
        for line in data[:complete].splitlines():
            try:
                doc = json.loads(line)
                kind, cid = doc.get("Type"), str(doc.get("ID", "")).lower()
                if kind not in ("container", "network") or doc.get("Status") in QUIET_EVENTS:
                    continue
                # A container the state does not know yet has no line the state could
                # judge: when netavark writes one, the file's mtime tells.
                nets = set(self._container_nets.get(cid, ()))
                if kind == "network" and isinstance(doc.get("network"), str):
                    nets.add(doc["network"])
                at = datetime.fromisoformat(doc["Time"].replace("Z", "+00:00")).timestamp()
                for net in nets:
                    if at - offset > self._event_net.get(net, float("-inf")):
                        self._event_net[net] = at - offset
                        self._unseen.add(net)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue

    def view(self, networks: frozenset[str] | None) -> View | str:
        """The state for ``networks`` (None: every network; empty: podman's part only),
        or why it cannot answer."""
        now = time.monotonic()
        with self._lock:
            if self._snapshot is None or self._context is None:
                return "no check has finished yet"
            self._unseen_changes(self._snapshot)
            names = set(networks or ())
            if networks is None:
                # networks with events too: one created since the check is news to it
                names |= set(self._net_at) | set(self._event_net)
                names |= {f.network for f in self._snapshot.directory.files}
                names |= {n.name for n in self._snapshot.podman.networks}
            seen = {net: max(self._full_at, self._net_at.get(net, self._full_at)) for net in names}
            oldest = min(seen.values(), default=self._full_at)
            if self._event_all > oldest:
                return "an event for every network came after the last full check"
            for net, at in seen.items():
                if self._event_net.get(net, float("-inf")) > at:
                    # the watcher may not have heard of it: the caller wakes it
                    unseen = UNSEEN if net in self._unseen else ""
                    return f"{unseen}an event for network {net} came after its last check"
            age = max(now - oldest, 0.0)
            return View(self._snapshot, self._context, age, dict(self._waited))


def _event_logs(rootful: bool, uid: int) -> list[Path]:
    """podman's event log with the file logger (none with journald: then only the event
    stream tells)."""
    if rootful:
        return [Path("/run/libpod/events/events.log")]
    runtime = os.environ.get("XDG_RUNTIME_DIR") if uid == os.geteuid() else None
    roots = [Path(runtime)] if runtime else []
    return [
        r / "libpod" / "tmp" / "events" / "events.log" for r in [*roots, Path(f"/run/user/{uid}")]
    ]


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class AnswerServer:
    """One thread accepting connections on the answer socket; stopped by ``close``."""

    def __init__(self, handle: Handler, path: Path | None = None) -> None:
        self.path = path or Path(answer_socket_path())
        self._handle = handle
        self._sock: socket.socket | None = None
        self._inode = 0
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen; returns a line for the log (also when another watcher has the socket)."""
        directory = self.path.parent
        directory.mkdir(mode=0o755 if os.geteuid() == 0 else 0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return f"not answering commands: {directory} is not a directory of uid {os.geteuid()}"
        if self._live_elsewhere():
            return f"not answering commands: another watcher answers on {self.path}"
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # owner-only from the first moment
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old_umask)
        sock.listen(16)
        self._sock, self._inode = sock, os.lstat(self.path).st_ino
        self._thread = threading.Thread(target=self._serve, name="aardcheck-answer", daemon=True)
        self._thread.start()
        return f"answering check, preflight and clean on {self.path}"

    def _live_elsewhere(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.2)
            try:
                probe.connect(str(self.path))
            except OSError:
                return False
        return True

    def _serve(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                conn, _ = sock.accept()
            except OSError:
                return  # closed
            with conn:
                self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(REQUEST_TIMEOUT)
        try:
            data = b""
            while len(data) <= MAX_REQUEST and (chunk := conn.recv(1 << 16)):
                data += chunk
            request = decode_request(data) if len(data) <= MAX_REQUEST else None
            reply: dict[str, object] = (
                {"declined": "not a request"} if request is None else self._handle(request)
            )
            conn.sendall(encode_reply(reply))
        except (OSError, ValueError):
            return  # the client gave up (it computes cold) or spoke nonsense

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        with contextlib.suppress(OSError):
            if os.lstat(self.path).st_ino == self._inode:  # still ours, not a successor's
                self.path.unlink()
        if self._thread is not None:
            self._thread.join(timeout=2)
