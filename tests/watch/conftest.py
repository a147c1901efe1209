"""Fixtures for the watcher's real-podman tests: start ``aardcheck watch`` processes
that are always stopped again, and check each one ends cleanly."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.realpodman import PodmanHost
from tests.watch.process import WatchProcess

StartWatch = Callable[..., WatchProcess]


@pytest.fixture
def start_watch() -> Iterator[StartWatch]:
    """``start_watch(host, *args, env=None)``: a running watcher, stopped at teardown."""
    started: list[WatchProcess] = []

    def start(host: PodmanHost, *args: str, env: dict[str, str] | None = None) -> WatchProcess:
        process = WatchProcess(host, *args, env=env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
