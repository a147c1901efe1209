"""WorkSignal: requests from other threads, debounced wake-ups, deadlines, stop."""

from __future__ import annotations

import threading
import time

from aardcheck.watch.schedule import Batch, Debouncer
from aardcheck.watch.wakeup import WorkSignal

WEB = frozenset({"web"})


def test_deadline_without_requests_returns_none() -> None:
    s = WorkSignal(Debouncer(quiet=0.05, max_delay=1))
    started = time.monotonic()
    assert s.wait(started + 0.05) is None
    assert time.monotonic() - started >= 0.05


def test_burst_from_another_thread_is_one_batch() -> None:
    s = WorkSignal(Debouncer(quiet=0.1, max_delay=5))
    done = threading.Event()

    def burst() -> None:
        for _ in range(20):
            s.request(WEB, "web modified")
        done.set()

    threading.Thread(target=burst).start()
    assert done.wait(5)
    batch = s.wait(time.monotonic() + 5)
    assert batch == Batch(WEB, ("web modified",))
    assert s.requests == 20
    assert s.wait(time.monotonic() + 0.2) is None


def test_stop_wakes_a_waiting_loop() -> None:
    s = WorkSignal(Debouncer(quiet=0.1, max_delay=5))
    returned = threading.Event()

    def loop() -> None:
        s.wait(None)
        returned.set()

    t = threading.Thread(target=loop)
    t.start()
    s.stop()
    assert returned.wait(5)
    t.join(5)
    assert s.stopping
    assert s.sleep(10)  # returns at once once stopped
