"""The watcher's podman API sessions, reconnecting on failure: one for checks, one for
the event stream.

``sources.podman_api.connect`` may start a private ``podman system service``; the link
keeps that context open while it is healthy and closes it (stopping the private service)
before reconnecting and on exit, so no service outlives the watcher.

Why two: podman 4.3's service keeps an fd on the netns of every running container it
lists (see ``pins``), so a private service that served a check pins namespaces - a user's
``umount`` fails with EBUSY and a dead container's namespace lives on. After each check
(``release``) a private check service that holds any netns is stopped and a fresh one is
started in the background (~0.1 s); the event stream, which lists nothing, keeps a
long-lived private service of its own and never sees the churn. A shared service (the
user's podman socket) is used for both and never stopped: it is not ours.
"""

from __future__ import annotations

import contextlib
import threading

from aardcheck.sources.podman_api import PodmanSession, connect
from aardcheck.watch.pins import held_namespaces, service_pid


class _Slot:
    """One session and the context that owns it (and its private service, if any)."""

    def __init__(self, url: str | None, timeout: float) -> None:
        self._wanted = url
        self._timeout = timeout
        self._stack: contextlib.ExitStack | None = None
        self._session: PodmanSession | None = None
        self._lock = threading.Lock()
        #: held while connecting: a check waits for a warming connection, never starts two
        self._connecting = threading.Lock()
        self.connects = 0

    @property
    def current(self) -> PodmanSession | None:
        with self._lock:
            return self._session

    def session(self) -> PodmanSession:
        with self._connecting:
            if (session := self.current) is not None:
                return session
            stack = contextlib.ExitStack()
            try:
                session = stack.enter_context(connect(self._wanted, timeout=self._timeout))
            except BaseException:
                stack.close()
                raise
            with self._lock:
                self._stack, self._session = stack, session
                self.connects += 1
            return session

    def drop(self) -> None:
        with self._lock:
            stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.close()


class PodmanLink:
    def __init__(self, url: str | None, timeout: float = 30.0) -> None:
        self._checks = _Slot(url, timeout)
        self._events = _Slot(url, timeout)
        self._warming: threading.Thread | None = None
        self._closed = False
        #: private check services stopped because they held container namespaces
        self.recycled = 0

    @property
    def connects(self) -> int:
        return self._checks.connects

    @property
    def url(self) -> str | None:
        """The URL of the live check session, None when disconnected."""
        session = self._checks.current
        return session.url if session is not None else None

    def session(self) -> PodmanSession:
        """The live check session, connecting first if needed (raises
        EnvironmentUnavailable)."""
        return self._checks.session()

    def events_url(self) -> str | None:
        """Where the event stream should listen now; None until the first check has
        connected (it decides shared or private) or while no service can be reached.
        Called by the event thread on each (re)connection."""
        checks = self._checks.current
        if checks is None or self._closed:
            return None
        if not checks.private:
            return checks.url
        events = self._events.current
        if events is not None and not events.ping():
            self._events.drop()
        try:
            return self._events.session().url
        except Exception:  # no service now: the stream backs off and asks again
            return None

    def release(self) -> bool:
        """After a check: stop a private check service that holds container namespaces
        and warm up a fresh one. True when it was recycled."""
        session = self._checks.current
        if session is None or not session.private or self._closed:
            return False
        pid = service_pid(session.url.removeprefix("unix://"))
        held = held_namespaces(pid) if pid is not None else None
        if held == []:
            return False
        self._checks.drop()
        self.recycled += 1
        self._warm()
        return True

    def _warm(self) -> None:
        def connect_now() -> None:
            with contextlib.suppress(Exception):  # the next check reports any failure
                self._checks.session()

        self._warming = threading.Thread(target=connect_now, name="podman-warm", daemon=True)
        self._warming.start()

    def healthy(self) -> bool:
        session = self._checks.current
        return session is not None and session.ping()

    def drop(self) -> None:
        """Forget the check session (stopping a private service); the next use
        reconnects."""
        self._checks.drop()

    def close(self) -> None:
        """Stop both sessions (and their private services)."""
        self._closed = True
        if self._warming is not None:
            self._warming.join(20)  # bounded by connect's own start timeout
        self._checks.drop()
        self._events.drop()
