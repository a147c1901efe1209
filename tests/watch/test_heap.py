"""The watcher's malloc arenas and trims (watch/heap.py)."""

from __future__ import annotations

import platform

import pytest

from aardcheck.watch.heap import ARENAS, M_ARENA_MAX, TRIM_EVERY, Heap, glibc


class FakeAllocator:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad, 0))
        return 1


def test_arenas_are_capped_and_trims_are_spaced() -> None:
    fake = FakeAllocator()
    heap = Heap(fake)
    assert heap.cap_arenas()
    assert fake.calls == [("mallopt", M_ARENA_MAX, ARENAS)]
    assert heap.trim_if_due(100.0)  # the first check's end trims
    assert not heap.trim_if_due(100.0 + TRIM_EVERY - 0.1)
    assert heap.trim_if_due(100.0 + TRIM_EVERY)
    assert [c[0] for c in fake.calls].count("malloc_trim") == 2


def test_without_glibc_nothing_is_done() -> None:
    heap = Heap(None)
    assert not heap.cap_arenas()
    assert not heap.trim_if_due(1e9)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only (Debian's is)")
def test_glibc_takes_the_cap_and_trims() -> None:
    allocator = glibc()
    assert allocator is not None
    heap = Heap(allocator)
    assert heap.cap_arenas()
    assert heap.trim_if_due(0.0)
