"""The Condition between event callbacks and the main loop (the mkdocs livereload pattern).

Callbacks (watchdog's thread, the podman event thread, signal handlers) only record a
request under the lock and notify; the main loop sleeps in ``wait`` until the debounced
batch is due, a deadline passes, or ``stop`` is called. Nothing here spins: each pass
through ``wait``'s loop follows a notification or a timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aardcheck.watch.schedule import Batch, Debouncer


class WorkSignal:
    def __init__(self, debouncer: Debouncer, clock: Callable[[], float] = time.monotonic) -> None:
        self._debouncer = debouncer
        self._clock = clock
        # re-entrant: a signal handler on the main thread may call stop() while the
        # main thread itself is inside a method holding it
        self._cond = threading.Condition(threading.RLock())
        self._stopping = False
        self.requests = 0

    def request(
        self, networks: frozenset[str] | None, reason: str, *, urgent: bool = False
    ) -> None:
        """Ask for a check of ``networks`` (None: all). Cheap; safe from any thread."""
        with self._cond:
            self._debouncer.add(self._clock(), networks, reason, urgent=urgent)
            self.requests += 1
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def wait(self, deadline: float | None) -> Batch | None:
        """The next debounced batch; None when ``deadline`` (monotonic) passes first or
        the signal is stopped."""
        with self._cond:
            while not self._stopping:
                now = self._clock()
                batch = self._debouncer.take(now)
                if batch is not None:
                    return batch
                if deadline is not None and now >= deadline:
                    return None
                wake = [t for t in (self._debouncer.due_at(), deadline) if t is not None]
                self._cond.wait(max(0.0, min(wake) - now) if wake else None)
            return None

    def poke(self) -> None:
        """Wake a ``wait_for`` (e.g. when work on another thread finished)."""
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until ``predicate()`` or ``timeout``; re-evaluated on every notification."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True when stopped."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, timeout=seconds)
            return self._stopping
