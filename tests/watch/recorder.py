"""A thread-safe list of calls that tests wait on with a deadline (never a bare sleep)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recorder(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[T] = []

    def add(self, item: T) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[T]], bool], timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.items), timeout=timeout)

    def clear(self) -> None:
        with self._cond:
            self.items.clear()
