"""Debounce, timetable, back-off and the repair gate, with literal clock readings."""

from __future__ import annotations

from aardcheck.watch.schedule import Backoff, Batch, Debouncer, RepairGate, Timetable

WEB = frozenset({"web"})
DB = frozenset({"db"})


def test_nothing_pending_nothing_due() -> None:
    d = Debouncer(quiet=0.5, max_delay=5)
    assert d.due_at() is None
    assert d.take(100) is None


def test_burst_becomes_one_batch_after_the_quiet_period() -> None:
    d = Debouncer(quiet=0.5, max_delay=5)
    for i in range(10):
        d.add(i * 0.1, WEB, "web modified")
    assert d.due_at() == 0.9 + 0.5
    assert d.take(1.3) is None
    batch = d.take(1.4)
    assert batch == Batch(WEB, ("web modified",))
    assert d.take(1.5) is None


def test_networks_merge_and_a_full_request_wins() -> None:
    d = Debouncer(quiet=0.5, max_delay=5)
    d.add(0, WEB, "a")
    d.add(0.1, DB, "b")
    merged = d.take(1)
    assert merged is not None
    assert merged.networks == WEB | DB
    d.add(2, WEB, "a")
    d.add(2.1, None, "dir created")
    full = d.take(3)
    assert full is not None
    assert full.full
    assert full.reasons == ("a", "dir created")


def test_a_steady_trickle_cannot_postpone_for_ever() -> None:
    d = Debouncer(quiet=0.5, max_delay=2)
    t = 0.0
    taken = None
    while taken is None and t < 10:
        d.add(t, WEB, "tick")
        t += 0.25
        taken = d.take(t)
    assert taken is not None
    assert t == 2.0


def test_reasons_are_bounded() -> None:
    d = Debouncer(quiet=0.5, max_delay=5)
    for i in range(50):
        d.add(0, WEB, f"event {i}")
    batch = d.take(1)
    assert batch is not None
    assert len(batch.reasons) == 6


def test_timetable_merges_and_takes_what_is_due() -> None:
    tt = Timetable()
    tt.add(5.0, Batch(WEB, ("settle",)))
    tt.add(5.01, Batch(DB, ("settle",)))
    tt.add(9.0, Batch(None, ("retry",)))
    assert len(tt) == 2
    assert tt.next_at() == 5.0
    assert tt.take(4.9) is None
    assert tt.take(5.0) == Batch(WEB | DB, ("settle",))
    assert tt.next_at() == 9.0
    full = tt.take(20)
    assert full is not None
    assert full.full
    assert tt.next_at() is None


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    b = Backoff(base=1, cap=10)
    assert [b.next_delay() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    b.reset()
    assert b.next_delay() == 1


def test_gate_first_repair_is_immediate_then_backs_off() -> None:
    g = RepairGate(base=10, cap=100, forget_after=1000)
    assert g.allows("web", 0)
    assert g.record("web", 0, ok=True) == 10
    assert not g.allows("web", 5)
    assert g.allows("web", 10)
    assert g.record("web", 10, ok=True) == 30  # 10 + 20
    assert g.record("web", 30, ok=True) == 70  # 30 + 40
    assert g.record("web", 70, ok=True) == 150  # 70 + 80
    assert g.record("web", 150, ok=True) == 250  # capped at 100


def test_gate_is_per_network() -> None:
    g = RepairGate(base=10, cap=100)
    g.record("web", 0, ok=True)
    assert not g.allows("web", 1)
    assert g.allows("db", 1)


def test_gate_failure_counts_double() -> None:
    g = RepairGate(base=10, cap=1000)
    assert g.record("web", 0, ok=False) == 20


def test_gate_forgets_a_quiet_network() -> None:
    g = RepairGate(base=10, cap=100, forget_after=500)
    for t in (0, 10, 30, 70):
        g.record("web", t, ok=True)
    assert g.open_at("web", 600) == 600
    assert g.record("web", 600, ok=True) == 610


def test_flapping_network_gets_a_bounded_number_of_repairs() -> None:
    """A line that comes back every second for an hour: repairs stay few."""
    g = RepairGate(base=10, cap=900, forget_after=1800)
    repairs = 0
    for second in range(3600):
        if g.allows("web", second):
            g.record("web", second, ok=True)
            repairs += 1
    assert repairs <= 12


def test_an_urgent_request_shortens_the_quiet_period() -> None:
    d = Debouncer(quiet=0.5, max_delay=5.0, urgent_quiet=0.05)
    d.add(0.0, frozenset({"web"}), "web modified")
    assert d.due_at() == 0.5
    d.add(0.1, frozenset({"web"}), "container a remove", urgent=True)
    assert d.due_at() == 0.1 + 0.05
    assert d.take(0.2) is not None
    d.add(1.0, frozenset({"web"}), "web modified")
    assert d.due_at() == 1.5  # urgency ends with its batch
