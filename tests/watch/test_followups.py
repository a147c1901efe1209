"""LookAgain and FinishedContainers: when to look again, what podman said is over."""

from __future__ import annotations

from aardcheck.findings import Finding, Kind, Severity
from aardcheck.watch.followups import (
    FINISHED_KEPT,
    LOOK_AGAIN,
    TRANSIENT_FIRST,
    TRANSIENT_RETRY,
    TRANSIT_KEPT,
    TRANSIT_MAX,
    ContainerTransit,
    LookAgain,
    retry_delay,
)

DOWN = Finding(Kind.RESOLVER_DOWN, "web", address="10.89.0.1", severity=Severity.CRITICAL)
UNKNOWN = Finding(Kind.UNKNOWN_ENTRY, "web", "a", "aa" * 32, "10.89.0.5")
DEAD = Finding(Kind.DEAD_ENTRY, "db", "b", "bb" * 32, "10.89.1.5")


def test_resolver_down_is_looked_at_within_seconds_doubling_to_its_cap() -> None:
    looks = LookAgain(interval=300)
    first, longest = LOOK_AGAIN[Kind.RESOLVER_DOWN]
    assert looks.due([DOWN, DEAD], 0) == [(first, "web", "resolver-down: look again")]
    assert looks.due([DOWN], 1) == []  # already promised
    assert looks.due([DOWN], first)[0][0] == first + 2 * first
    delays = []
    now = 3 * first
    for _ in range(10):
        ((at, _, _),) = looks.due([DOWN], now)
        delays.append(at - now)
        now = at
    assert max(delays) == longest


def test_the_most_urgent_kind_of_a_network_sets_the_pace() -> None:
    looks = LookAgain(interval=300)
    ((at, net, _),) = looks.due([UNKNOWN, DOWN], 0)
    assert (at, net) == (LOOK_AGAIN[Kind.RESOLVER_DOWN][0], "web")


def test_a_resolved_network_is_forgotten() -> None:
    looks = LookAgain(interval=300)
    looks.due([DOWN], 0)
    assert looks.due([], 10) == []
    assert looks.due([DOWN], 10) == [
        (10 + LOOK_AGAIN[Kind.RESOLVER_DOWN][0], "web", "resolver-down: look again")
    ]


def test_finished_containers_by_time_and_bounded() -> None:
    done = ContainerTransit()
    done.note("remove", "a", 1.0)
    done.note("cleanup", "b", 5.0)
    assert done.finished_before(2.0) == {"a"}
    assert done.finished_before(5.0) == {"a", "b"}
    for i in range(FINISHED_KEPT + 10):
        done.note("remove", f"x{i}", 6.0)
    assert "a" not in done.finished_before(10.0)
    assert len(done.finished_before(10.0)) == FINISHED_KEPT


def test_podmans_word_on_a_container_is_forgotten_after_minutes() -> None:
    """The tables hold the last minutes' churn, not the watcher's life's (its RSS)."""
    transit = ContainerTransit()
    transit.note("remove", "old", 0.0)
    transit.note("create", "begun", 0.0)
    transit.note("cleanup", "recent", TRANSIT_KEPT - 1)
    assert transit.finished_before(TRANSIT_KEPT) == {"old", "recent"}
    transit.note("start", "other", TRANSIT_KEPT + 1)  # any event forgets what is too old
    assert transit.finished_before(TRANSIT_KEPT + 1) == {"recent"}
    assert (transit._finished, transit._begun) == ({"recent": TRANSIT_KEPT - 1}, {})
    assert TRANSIT_KEPT >= 10 * TRANSIT_MAX  # far beyond what a check asks about


def test_a_restart_makes_a_finished_container_live_again() -> None:
    transit = ContainerTransit()
    transit.note("died", "a", 1.0)
    transit.note("cleanup", "a", 2.0)
    transit.note("init", "a", 3.0)
    assert transit.finished_before(4.0) == set()
    assert transit.busy_at(4.0)
    transit.note("start", "a", 5.0)
    assert not transit.busy_at(6.0)


def test_busy_from_a_begun_change_until_it_ends_or_is_too_old() -> None:
    transit = ContainerTransit()
    transit.note("create", "a", 10.0)
    assert transit.busy_at(10.5)
    assert not transit.busy_at(10.0 + TRANSIT_MAX)  # never ended: stops counting
    transit.note("remove", "a", 12.0)
    assert not transit.busy_at(12.5)
    assert transit.busy_at(11.0)  # a check that started then saw part of the change


def test_a_vanished_netns_listing_failure_is_retried_soon_then_within_a_second() -> None:
    vanished = "podman cannot list containers: the network namespace of container 0605a2 vanished"
    delays = [retry_delay(8.0, vanished, n) for n in range(5)]
    assert (
        delays
        == [TRANSIENT_FIRST, 2 * TRANSIENT_FIRST, 4 * TRANSIENT_FIRST] + [TRANSIENT_RETRY] * 2
    )
    assert TRANSIENT_FIRST < TRANSIENT_RETRY == 4 * TRANSIENT_FIRST
    assert retry_delay(0.1, vanished, 0) == 0.1  # never later than the back-off itself
    assert retry_delay(8.0, "podman API does not answer", 0) == 8.0


def test_silence_found_by_the_short_wait_is_confirmed_with_the_cold_one() -> None:
    from ipaddress import ip_address

    from aardcheck.models import AddressLiveness, Liveness
    from aardcheck.watch.followups import CONFIRM_SILENT, liveness_wait, to_confirm

    def seen(net: str, how: Liveness) -> AddressLiveness:
        return AddressLiveness(net, ip_address("10.89.0.9"), how)

    found = (seen("a", Liveness.SILENT), seen("b", Liveness.ALIVE), seen("c", Liveness.UNKNOWN))
    assert to_confirm(found, 0.3, 1.5) == frozenset({"a"})
    assert to_confirm(found, 1.5, 1.5) == frozenset()  # waited as long as a cold check
    assert liveness_wait(("settle",), 0.3, 1.5) == 0.3
    assert liveness_wait(("settle", CONFIRM_SILENT), 0.3, 1.5) == 1.5
