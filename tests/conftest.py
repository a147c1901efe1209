"""Shared pytest setup: real-podman fixtures and the rule for missing podman.

Tests marked ``podman`` (or ``rootless``), and every test using ``rootful_host`` or
``rootless_host`` (marked automatically), need real podman. Where it is missing they
are skipped with the reason, except in CI (``CI=true``), where they fail: CI has real
podman, so a missing one is a broken setup, never a silent pass.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.realpodman import (
    HarnessSession,
    PodmanHost,
    close_session,
    create_user,
    in_ci,
    open_session,
    podman_unavailable_reason,
    rootless_unavailable_reason,
)
from tests.realpodman.stack import current_stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the host fixtures they use, so ``-m "not podman"`` deselects them."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "rootless_host" in fixtures:
            item.add_marker(pytest.mark.rootless)
        if "rootless_host" in fixtures or "rootful_host" in fixtures:
            item.add_marker(pytest.mark.podman)
        if item.get_closest_marker("rootless") and not item.get_closest_marker("podman"):
            item.add_marker(pytest.mark.podman)


def _refuse(reason: str) -> None:
    if in_ci():
        pytest.fail(f"real podman is required in CI: {reason}", pytrace=False)
    pytest.skip(f"real podman unavailable: {reason}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (locally) or fail (CI) podman tests that cannot run on this machine."""
    if item.get_closest_marker("rootless"):
        reason = rootless_unavailable_reason()
        if reason:
            _refuse(reason)
    elif item.get_closest_marker("podman"):
        reason = podman_unavailable_reason()
        if reason:
            _refuse(reason)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how long each stale-entry recipe took (when any ran)."""
    session = _LAST_SESSION[0] if _LAST_SESSION else None
    if session is None or not session.timings:
        return
    by_recipe: dict[str, list[float]] = {}
    for what, seconds in session.timings:
        by_recipe.setdefault(what, []).append(seconds)
    terminalreporter.write_sep("-", "real-podman recipe timings")
    for what, values in sorted(by_recipe.items()):
        terminalreporter.write_line(
            f"{what}: n={len(values)} mean={sum(values) / len(values):.2f}s max={max(values):.2f}s"
        )


#: The session of this run, kept for the terminal summary after its cleanup.
_LAST_SESSION: list[HarnessSession] = []


@pytest.fixture(scope="session", autouse=True)
def _stack_in_report(record_testsuite_property: Callable[[str, object], None]) -> None:
    """The versions this run was made on, in the JUnit report (scripts/lane_summary.py)."""
    stack = current_stack()
    for name, version in (
        ("podman", stack.podman),
        ("netavark", stack.netavark),
        ("aardvark-dns", stack.aardvark),
    ):
        record_testsuite_property(name, ".".join(map(str, version)))


@pytest.fixture(scope="session")
def harness_session() -> Iterator[HarnessSession]:
    """The harness session: prefix, scratch dir, containers.conf. Cleaned up at the end."""
    reason = podman_unavailable_reason()
    if reason:
        _refuse(reason)
    session = open_session()
    _LAST_SESSION[:] = [session]
    yield session
    problems = close_session()
    if problems:
        pytest.fail("harness cleanup: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def rootful_host(harness_session: HarnessSession) -> PodmanHost:
    """Rootful podman with the session's containers.conf and the busybox image."""
    host = PodmanHost(harness_session)
    host.ensure_image()
    return host


@pytest.fixture(scope="session")
def rootless_host(harness_session: HarnessSession) -> PodmanHost:
    """Rootless podman of a throw-away user ``<prefix>u`` (removed at session end)."""
    reason = rootless_unavailable_reason()
    if reason:
        _refuse(reason)
    host = PodmanHost(harness_session, create_user(harness_session))
    host.ensure_image()
    return host


@pytest.fixture
def net_name(harness_session: HarnessSession) -> Callable[[str], str]:
    """Factory of session-unique network names: ``net_name("web")`` -> ``<prefix>web7``."""
    return harness_session.new_name


#: The headers podman 4.3.1's API service answers with (no ``GET /info`` needed).
PODMAN_431_HEADERS = {"server": "Libpod/4.3.1 (linux)", "libpod-api-version": "4.3.1"}


@pytest.fixture
def silent_api_socket(tmp_path: Path) -> Iterator[Path]:
    """A bound unix socket nobody answers on: any request to it fails."""
    path = tmp_path / "api.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(path))
        yield path
