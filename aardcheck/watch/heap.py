"""Keep the watcher's resident memory from creeping up under churn.

Each check runs on a fresh thread, beside threads for podman's listing, the probe and
the ARP/NDP looks. glibc's malloc gives threads that allocate at the same time arenas of
their own (up to 8 per core) and hands little of a fragmented arena back to the system:
over a 30-minute soak the watcher's RSS rose ~4 MiB and did not level off, while its
Python heap stayed flat (tracemalloc, soak M in docs/benchmarks.md). Python has no API
for malloc's tuning, so glibc's own ``mallopt`` and ``malloc_trim`` are called through
ctypes; with another C library (musl, macOS) nothing is done.
"""

from __future__ import annotations

import ctypes
import math
from typing import Protocol

#: mallopt's parameter for the most arenas (glibc's malloc.h).
M_ARENA_MAX = -8
#: Arenas the watcher's threads share: two, so a check and a look allocate side by side.
ARENAS = 2
#: Seconds between two trims at least (a trim walks the heap: ~1 ms here).
TRIM_EVERY = 60.0


class Allocator(Protocol):
    def mallopt(self, param: int, value: int) -> int: ...

    def malloc_trim(self, pad: int) -> int: ...


def glibc() -> Allocator | None:
    """The process's C library when it is glibc, else None."""
    try:
        libc = ctypes.CDLL(None)
        if not hasattr(libc, "gnu_get_libc_version"):  # glibc's own: not musl's, not macOS'
            return None
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc  # a CDLL: its functions are looked up by name, untyped


class Heap:
    """Caps malloc's arenas once, and gives free memory back to the system at most every
    ``TRIM_EVERY`` seconds (after a check, not while one runs)."""

    def __init__(self, allocator: Allocator | None) -> None:
        self._allocator = allocator
        self._trimmed_at = -math.inf

    def cap_arenas(self) -> bool:
        """Before the watcher starts its threads: True when glibc took the cap."""
        return self._allocator is not None and self._allocator.mallopt(M_ARENA_MAX, ARENAS) == 1

    def trim_if_due(self, now: float) -> bool:
        """True when a trim ran (``now``: a monotonic clock reading)."""
        if self._allocator is None or now - self._trimmed_at < TRIM_EVERY:
            return False
        self._trimmed_at = now
        self._allocator.malloc_trim(0)
        return True
