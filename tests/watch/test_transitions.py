"""FindingTracker: appeared/resolved by identity, scoped checks, the settle period."""

from __future__ import annotations

from aardcheck.findings import Finding, Kind, Severity
from aardcheck.watch.transitions import MAX_WAIT, Change, FindingTracker, Update

DEAD_A = Finding(Kind.DEAD_ENTRY, "web", "a", "aa" * 32, "10.89.0.5", message="gone")
DEAD_B = Finding(Kind.DEAD_ENTRY, "db", "b", "bb" * 32, "10.89.1.5", message="gone")
ORPHAN = Finding(Kind.ORPHAN_FILE, "old", severity=Severity.WARNING)


def changes(update: Update) -> list[tuple[str, str]]:
    return [(str(t.change), t.finding.network) for t in update.transitions]


def test_appears_once_then_stays_quiet() -> None:
    t = FindingTracker()
    assert changes(t.update([DEAD_A], None, 0)) == [("appeared", "web")]
    assert changes(t.update([DEAD_A], None, 1)) == []
    assert changes(t.update([DEAD_A], None, 2)) == []


def test_resolves_once() -> None:
    t = FindingTracker()
    t.update([DEAD_A, DEAD_B], None, 0)
    assert changes(t.update([DEAD_B], None, 1)) == [("resolved", "web")]
    assert changes(t.update([DEAD_B], None, 2)) == []
    assert t.current == (DEAD_B,)


def test_new_message_same_identity_is_no_transition() -> None:
    t = FindingTracker()
    t.update([DEAD_A], None, 0)
    reworded = Finding(Kind.DEAD_ENTRY, "web", "a", "aa" * 32, "10.89.0.5", message="new text")
    assert changes(t.update([reworded], None, 1)) == []
    assert t.current[0].message == "new text"


def test_partial_check_leaves_other_networks_alone() -> None:
    t = FindingTracker()
    t.update([DEAD_A, DEAD_B], None, 0)
    assert changes(t.update([], frozenset({"web"}), 1)) == [("resolved", "web")]
    assert t.current == (DEAD_B,)


def test_partial_check_ignores_findings_outside_its_scope() -> None:
    t = FindingTracker()
    assert changes(t.update([DEAD_A, DEAD_B], frozenset({"db"}), 0)) == [("appeared", "db")]


def test_resolved_is_reported_before_appeared() -> None:
    t = FindingTracker()
    t.update([DEAD_A], None, 0)
    moved = Finding(Kind.DEAD_ENTRY, "web", "a", "aa" * 32, "10.89.0.6")
    assert [str(x.change) for x in t.update([moved], None, 1).transitions] == [
        "resolved",
        "appeared",
    ]


def test_settle_waits_for_a_confirming_check() -> None:
    t = FindingTracker(settle=1.0)
    first = t.update([DEAD_A], None, 10.0)
    assert changes(first) == []
    assert first.recheck_at == 11.0
    assert first.recheck_networks == frozenset({"web"})
    assert changes(t.update([DEAD_A], None, 10.5)) == []  # too early to confirm
    assert changes(t.update([DEAD_A], None, 11.0)) == [("appeared", "web")]


def test_settle_drops_a_flicker() -> None:
    t = FindingTracker(settle=1.0)
    t.update([DEAD_A], None, 0.0)
    gone = t.update([], None, 1.0)
    assert changes(gone) == []
    assert gone.recheck_at is None
    assert t.current == ()
    assert t.pending == 0


def test_settle_applies_to_resolutions_too() -> None:
    t = FindingTracker(settle=1.0)
    t.update([DEAD_A], None, 0.0)
    t.update([DEAD_A], None, 1.0)
    assert changes(t.update([], None, 2.0)) == []  # a truncated file read for a moment
    assert changes(t.update([DEAD_A], None, 2.5)) == []  # back: nothing to say
    assert changes(t.update([], None, 3.0)) == []
    assert changes(t.update([], None, 4.0)) == [("resolved", "web")]


def test_pending_outside_partial_scope_survives() -> None:
    t = FindingTracker(settle=1.0)
    t.update([DEAD_A, DEAD_B], None, 0.0)
    t.update([DEAD_B], frozenset({"db"}), 0.5)
    assert changes(t.update([DEAD_A, DEAD_B], None, 1.0)) == [
        ("appeared", "db"),
        ("appeared", "web"),
    ]


def test_change_names() -> None:
    assert [str(c) for c in Change] == ["appeared", "resolved"]
    assert ORPHAN.identity == ("orphan-file", "old", "", "", "")


def test_a_finished_container_settles_at_once() -> None:
    """podman said the container's cleanup is over: its line cannot be in transit."""
    t = FindingTracker(settle=1.0)
    cid = DEAD_A.container_id
    assert changes(t.update([DEAD_A, DEAD_B], None, 0, finished={cid})) == [("appeared", "web")]
    assert t.pending == 1  # DEAD_B: no event said so, the timer still applies
    # gone again half a second later: a resolution still waits for the timer
    assert changes(t.update([DEAD_B], None, 0.5, finished={cid})) == []


def test_finished_does_not_hurry_a_resolution() -> None:
    t = FindingTracker(settle=1.0)
    t.update([DEAD_A], None, 0)
    t.update([DEAD_A], None, 1)
    assert changes(t.update([], None, 2, finished={DEAD_A.container_id})) == []
    assert changes(t.update([], None, 3)) == [("resolved", "web")]


def test_busy_podman_holds_a_timed_change_back_up_to_max_wait() -> None:
    t = FindingTracker(settle=1.0)
    t.update([ORPHAN], None, 0, busy=True)
    held = t.update([ORPHAN], None, 1.5, busy=True)
    assert changes(held) == []
    assert held.recheck_at == 2.5  # asks again a settle period later, not at once
    assert changes(t.update([ORPHAN], None, 3, busy=False)) == [("appeared", "old")]


def test_busy_for_ever_still_reports_after_max_wait() -> None:
    t = FindingTracker(settle=1.0)
    t.update([ORPHAN], None, 0, busy=True)
    assert t.update([ORPHAN], None, MAX_WAIT - 0.5, busy=True).recheck_at == MAX_WAIT
    assert changes(t.update([ORPHAN], None, MAX_WAIT, busy=True)) == [("appeared", "old")]


def test_a_finished_container_is_not_held_back_by_busy_podman() -> None:
    t = FindingTracker(settle=1.0)
    update = t.update([DEAD_A], None, 0, finished={DEAD_A.container_id}, busy=True)
    assert changes(update) == [("appeared", "web")]


def test_finished_settles_only_findings_that_say_the_container_is_gone() -> None:
    """A remove event does not vouch for what a check saw of a container it still listed."""
    t = FindingTracker(settle=1.0)
    stopped = Finding(Kind.STOPPED_ENTRY, "web", "a", "aa" * 32, "10.89.0.5")
    assert changes(t.update([stopped], None, 0, finished={stopped.container_id})) == []


def test_resolver_down_must_hold_longer_before_it_appears() -> None:
    """aardvark-dns 1.4 drops queries while it reloads: two silent rounds under churn are
    not enough; the silence must still hold SETTLE_AT_LEAST later."""
    from aardcheck.watch.transitions import SETTLE_AT_LEAST

    down = Finding(Kind.RESOLVER_DOWN, "web", address="10.89.0.1", severity=Severity.CRITICAL)
    longer = SETTLE_AT_LEAST[Kind.RESOLVER_DOWN]
    t = FindingTracker(settle=1.0)
    first = t.update([down], None, 0.0)
    assert first.recheck_at == longer
    assert changes(t.update([down], None, 1.0)) == []  # the usual settle is not enough
    assert changes(t.update([], None, 2.0)) == []  # it answered again: a reload, no alarm
    t.update([down], None, 3.0)
    assert changes(t.update([down], None, 3.0 + longer)) == [("appeared", "web")]
    assert changes(t.update([], None, 4.0 + longer)) == []  # resolving settles as usual
    assert changes(t.update([], None, 5.0 + longer)) == [("resolved", "web")]
    at_once = FindingTracker(settle=0.0)
    assert changes(at_once.update([down], None, 0.0)) == [("appeared", "web")]


DOWN = Finding(Kind.RESOLVER_DOWN, "web", address="10.89.0.1", severity=Severity.CRITICAL)


def _not_probe(f: Finding) -> bool:
    return f.kind is not Kind.RESOLVER_DOWN


def test_a_partial_update_leaves_what_it_does_not_cover() -> None:
    """The early part of a check (before its probe answered) neither clears a reported
    resolver-down nor drops one waiting to settle; what it covers appears at once."""
    t = FindingTracker(settle=0)
    t.update([DOWN], None, 0)
    assert changes(t.update([DEAD_A], None, 1, covers=_not_probe)) == [("appeared", "web")]
    assert set(t.current) == {DOWN, DEAD_A}
    assert changes(t.update([DEAD_A], None, 1)) == [("resolved", "web")]
    assert t.current == (DEAD_A,)


def test_a_partial_update_keeps_an_uncovered_change_waiting() -> None:
    t = FindingTracker(settle=1.0)
    t.update([DOWN], None, 0)  # resolver-down waits SETTLE_AT_LEAST
    assert t.pending == 1
    t.update([], None, 1, covers=_not_probe)
    assert t.pending == 1
    t.update([DOWN], None, 6)
    assert t.current == (DOWN,)


def test_a_partial_update_does_not_settle_what_it_does_not_cover() -> None:
    """A resolver-down seen once must be seen again by a probe before it appears: the
    next check's early part (no probe yet) is past the settle time but cannot confirm
    it, and the probe of that check finds the resolver answering."""
    t = FindingTracker(settle=1.0)
    t.update([DOWN], None, 0)
    assert changes(t.update([], None, 6, covers=_not_probe)) == []
    assert t.pending == 1
    assert changes(t.update([], None, 6)) == []
    assert t.pending == 0 and t.current == ()


def test_a_scoped_update_does_not_settle_other_networks() -> None:
    t = FindingTracker(settle=1.0)
    t.update([DEAD_B], None, 0)
    assert changes(t.update([], frozenset({"web"}), 2)) == []
    assert changes(t.update([DEAD_B], frozenset({"db"}), 2)) == [("appeared", "db")]
