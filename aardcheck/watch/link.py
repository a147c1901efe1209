"""The one podman API session the watcher keeps for its lifetime, reconnecting on failure.

``runner.connect`` may start a private ``podman system service``; the link keeps that
context open while it is healthy and closes it (stopping the private service) before
reconnecting and on exit, so no service outlives the watcher.
"""

from __future__ import annotations

import contextlib
import threading

from aardcheck.sources.podman_api import PodmanSession, connect


class PodmanLink:
    def __init__(self, url: str | None, timeout: float = 30.0) -> None:
        self._wanted = url
        self._timeout = timeout
        self._stack: contextlib.ExitStack | None = None
        self._session: PodmanSession | None = None
        self._lock = threading.Lock()
        self.connects = 0

    @property
    def url(self) -> str | None:
        """The URL of the live session (for the event stream), None when disconnected."""
        with self._lock:
            return self._session.url if self._session is not None else None

    def session(self) -> PodmanSession:
        """The live session, connecting first if needed (raises EnvironmentUnavailable)."""
        with self._lock:
            if self._session is not None:
                return self._session
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

    def healthy(self) -> bool:
        with self._lock:
            session = self._session
        return session is not None and session.ping()

    def drop(self) -> None:
        """Forget the session (stopping a private service); the next use reconnects."""
        with self._lock:
            stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.close()

    close = drop
