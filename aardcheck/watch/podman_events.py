"""Podman's event stream on its own thread, with its own client.

The stream needs a client without a timeout (the ``podman`` package applies its timeout
to idle reads of a stream too), so it does not share the checker's session. When the
stream ends (the API service restarted, a private service was replaced) the thread
reconnects with back-off and ``since=`` the last event it saw, and reports the
reconnection so the watcher can re-check everything.

podman 4.3's network connect/disconnect events carry the container, not the network; the
watcher maps container ids to networks from its last snapshot.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aardcheck.watch.schedule import Backoff

if TYPE_CHECKING:
    from aardcheck.watch.output import Reporter

#: The actions that change what a network's DNS should hold.
ACTIONS = ("create", "init", "start", "died", "cleanup", "remove", "connect", "disconnect")
#: After these, podman is done with the container's networks (netavark's teardown ran,
#: or the container is gone): a line of it still in a file is stale, not in transit.
FINISHED = frozenset({"cleanup", "remove"})
#: These begin a change of the container's lines that ``start`` or FINISHED ends.
BEGUN = frozenset({"create", "init", "died"})
STREAM_FILTERS = json.dumps({"type": ["container", "network"], "event": list(ACTIONS)})


@dataclass(frozen=True, slots=True)
class PodmanEvent:
    type: str
    action: str
    container_id: str
    name: str
    time: int


def parse_event(doc: dict[str, Any]) -> PodmanEvent | None:
    action = str(doc.get("Action") or doc.get("status") or "")
    if action not in ACTIONS:
        return None
    actor = doc.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    return PodmanEvent(
        type=str(doc.get("Type", "")),
        action=action,
        container_id=str(actor.get("ID") or doc.get("id") or "").lower(),
        name=str(attributes.get("name", "")),
        time=int(doc.get("time") or 0),
    )


class PodmanEventStream:
    def __init__(
        self,
        url: Callable[[], str | None],
        on_event: Callable[[PodmanEvent], None],
        on_connection: Callable[[bool, str], None],
        backoff: Backoff | None = None,
        since: int | None = None,
    ) -> None:
        """``url`` gives the API URL to use now (None: no session yet); ``on_connection``
        gets (True, url) after each successful (re)connection, (False, why) on loss."""
        self._url = url
        self._on_event = on_event
        self._on_connection = on_connection
        self._backoff = backoff or Backoff(base=0.5, cap=30.0)
        self._since = since if since is not None else int(time.time())
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="podman-events", daemon=True)
        self.events_seen = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the stream and join the thread; True when it ended in time."""
        self._stop.set()
        with self._lock:
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            url = self._url()
            if url is None:
                self._stop.wait(self._backoff.next_delay())
                continue
            try:
                self._stream(url)
                reason = "the event stream ended"
            except Exception as err:  # whatever requests/urllib3 raise: reconnect
                reason = f"{type(err).__name__}: {err}"
            if self._stop.is_set():
                break
            self._on_connection(False, reason)
            self._stop.wait(self._backoff.next_delay())

    def _stream(self, url: str) -> None:
        from podman import PodmanClient

        client: Any = PodmanClient(base_url=url, timeout=None)
        try:
            params = {"stream": "true", "filters": STREAM_FILTERS, "since": str(self._since)}
            response = client.api.get("/events", params=params, stream=True)
            response.raise_for_status()
            with self._lock:
                connection = getattr(response.raw, "connection", None)
                self._sock = getattr(connection, "sock", None)
            if self._stop.is_set():
                return
            self._backoff.reset()
            self._on_connection(True, url)
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line:
                    self._handle(line)
        finally:
            with self._lock:
                self._sock = None
            with contextlib.suppress(Exception):
                client.close()

    def _handle(self, line: bytes) -> None:
        try:
            doc = json.loads(line)
        except ValueError:
            return
        if not isinstance(doc, dict):
            return
        event = parse_event(doc)
        if event is None:
            return
        self.events_seen += 1
        self._since = max(self._since, event.time)
        self._on_event(event)


class StreamHealth:
    """What the watcher says when the event stream goes and comes back: the loss once,
    the return once, and a full check then (events may have been missed meanwhile)."""

    def __init__(self, reporter: Reporter, check_all: Callable[[str], None]) -> None:
        self._reporter = reporter
        self._check_all = check_all
        self._lost = False

    def on_connection(self, connected: bool, detail: str) -> None:
        if connected:
            self._reporter.debug(f"listening to podman events at {detail}")
            if self._lost:
                self._lost = False
                self._reporter.recovered("events", "podman event stream is back")
                self._check_all("podman event stream reconnected")
        else:
            self._lost = True
            self._reporter.problem(
                "events", f"podman event stream lost ({detail}); reconnecting with back-off"
            )
