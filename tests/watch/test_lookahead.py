"""The watcher's look-ahead: ARP/NDP looks taken at podman's events, reused by checks."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

from aardcheck.models import AddressLiveness, IPAddress, Liveness, Snapshot
from aardcheck.sources.liveness import LivenessRequest
from aardcheck.watch.followups import to_confirm
from aardcheck.watch.lookahead import (
    MAX_LOOKS,
    REUSE_SPAN,
    LookAhead,
    SilentMemory,
    keys_of,
    lines_by_container,
)
from tests.scenario_loader import load_scenario

SILENT = Liveness.SILENT
DEAD = "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"
A, B = IPv4Address("10.89.0.2"), IPv4Address("10.89.0.3")


class FakeWire:
    """Answers as told (SILENT unless listed in ``alive``), and records what it was asked."""

    def __init__(self, alive: Sequence[IPv4Address] = (), gate: threading.Event | None = None):
        self.alive = set(alive)
        self.gate = gate
        self.asked: list[tuple[tuple[str, IPAddress], ...]] = []
        self.waits: list[float] = []

    def __call__(
        self, requests: Sequence[LivenessRequest], timeout: float, stopper: object = None
    ) -> tuple[AddressLiveness, ...]:
        if self.gate is not None:
            assert self.gate.wait(5)
        self.asked.append(tuple((r.network, a) for r in requests for a in r.addresses))
        self.waits.append(timeout)
        return tuple(
            AddressLiveness(
                r.network,
                a,
                Liveness.ALIVE if a in self.alive else Liveness.SILENT,
                "fake",
                timeout,
            )
            for r in requests
            for a in r.addresses
        )


def _request(*addresses: IPv4Address) -> LivenessRequest:
    return LivenessRequest("proj_default", "podman1", tuple(addresses))


def _requests(address: IPv4Address) -> list[LivenessRequest]:
    return [_request(address)]


def _snapshot(tmp_path: Path, lines_left: bool = True) -> Snapshot:
    """The seed scenario with its network file copied where the test may change it."""
    snap = load_scenario("seed-dead-alias")
    source = snap.directory.files[0]
    copy = tmp_path / "proj_default"
    text = source.path.read_text()
    copy.write_text(text if lines_left else text.replace(DEAD, "0" * 64))
    files = (replace(source, path=copy),)
    return replace(snap, directory=replace(snap.directory, files=files))


def _by_wait(
    short: FakeWire,
    cold: FakeWire,
    requests: Sequence[LivenessRequest],
    timeout: float,
    stopper: object,
) -> tuple[AddressLiveness, ...]:
    """A wire with one fake for the short wait and another for the cold one."""
    return (short if timeout < 1 else cold)(requests, timeout)


def _settle(look: LookAhead) -> None:
    assert look.join(5)  # a fake look ends at once once its gate is open


def test_lines_by_container_keeps_the_lines_with_a_bridge_to_look_on(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path)
    lines = lines_by_container(snap)
    assert [(x.network, x.interface, x.addresses) for x in lines[DEAD]] == [
        ("proj_default", "podman1", (A,))
    ]
    bridgeless = replace(
        snap,
        podman=replace(
            snap.podman, networks=tuple(replace(n, interface="") for n in snap.podman.networks)
        ),
    )
    assert lines_by_container(bridgeless) == {}


def test_memory_takes_only_silence_young_enough_and_waited_for_long_enough() -> None:
    memory = SilentMemory()
    (ka, kb) = keys_of([_request(A, B)])
    silent = AddressLiveness("proj_default", A, Liveness.SILENT)
    alive = AddressLiveness("proj_default", B, Liveness.ALIVE)
    memory.record([(ka, silent), (kb, alive)], waited=0.3, now=10.0)
    assert memory.reusable(ka, 0.3, 10.0 + REUSE_SPAN) == silent
    assert memory.reusable(ka, 0.3, 10.1 + REUSE_SPAN) is None  # too old
    assert memory.reusable(ka, 1.5, 10.5) is None  # a cold check waits longer
    assert memory.reusable(kb, 0.3, 10.5) is None  # ALIVE is always asked again
    other_bridge = keys_of([LivenessRequest("proj_default", "podman9", (A,))])[0]
    rootless = keys_of([LivenessRequest("proj_default", "podman1", (A,), 1000)])[0]
    assert memory.reusable(other_bridge, 0.3, 10.5) is None
    assert memory.reusable(rootless, 0.3, 10.5) is None
    memory.record([], waited=0.3, now=20.0)
    assert not memory._seen  # old answers are dropped, not kept for ever


def test_a_checks_own_answers_are_never_taken_by_the_next_check() -> None:
    """A settling finding's recheck looks again: a line is not called dead on fewer
    independent looks than before."""
    wire = FakeWire(alive=[B])
    look = LookAhead(0.3, wire)
    first = look.liveness([_request(A, B)], 0.3)
    assert [a.liveness for a in first] == [Liveness.SILENT, Liveness.ALIVE]
    assert look.liveness([_request(A, B)], 0.3) == first  # same answers, same order
    assert len(wire.asked) == 2 and look.reused == 0


def test_an_event_looks_ahead_and_the_check_takes_its_answer(tmp_path: Path) -> None:
    wire = FakeWire()
    look = LookAhead(0.3, wire)
    look.learn(_snapshot(tmp_path))
    look.container_done(DEAD)
    _settle(look)
    assert look.started == 1 and wire.asked == [(("proj_default", A),)]
    answers = look.liveness([_request(A)], 0.3)
    assert [a.liveness for a in answers] == [Liveness.SILENT]
    assert len(wire.asked) == 1 and look.reused == 1
    # from another namespace (a rootless user's) the answer does not hold
    look.liveness([LivenessRequest("proj_default", "podman1", (A,), 1000)], 0.3)
    assert len(wire.asked) == 2


def test_a_check_waits_for_a_look_in_progress_rather_than_asking_again(tmp_path: Path) -> None:
    gate = threading.Event()
    wire = FakeWire(gate=gate)
    look = LookAhead(0.3, wire)
    look.learn(_snapshot(tmp_path))
    look.container_done(DEAD)
    got: list[tuple[AddressLiveness, ...]] = []
    check = threading.Thread(target=lambda: got.append(look.liveness([_request(A)], 0.3)))
    check.start()
    check.join(0.05)
    assert check.is_alive()  # waiting for the look, not asking
    gate.set()
    check.join(5)
    assert [a.liveness for a in got[0]] == [Liveness.SILENT]
    assert wire.asked == [(("proj_default", A),)]


def test_the_confirm_look_runs_beside_the_checks_and_the_confirm_check_takes_it(
    tmp_path: Path,
) -> None:
    """A short check that found an address silent starts the cold look at once; a short
    check about the same address meanwhile is not held up by it (it could not take its
    answer), and the confirm check takes it."""
    gate = threading.Event()
    cold = FakeWire(gate=gate)
    short = FakeWire()

    look = LookAhead(0.3, functools.partial(_by_wait, short, cold))
    found = look.liveness([_request(A)], 0.3)
    snap = replace(_snapshot(tmp_path), liveness=found)
    look.confirm(snap, 1.5)
    assert look.started == 1
    look.liveness([_request(A)], 0.3)  # returns although the cold look of A is held
    assert short.asked == [(("proj_default", A),)] * 2
    gate.set()
    _settle(look)
    assert cold.asked == [(("proj_default", A),)] and cold.waits == [1.5]
    answers = look.liveness([_request(A)], 1.5)
    assert [a.liveness for a in answers] == [Liveness.SILENT]
    assert len(cold.asked) == 1  # taken, not asked again
    look.confirm(snap, 1.5)  # answered with that wait already: no new look
    assert look.started == 1


def _silent_found(look: LookAhead, tmp_path: Path, *addresses: IPv4Address) -> Snapshot:
    """The snapshot of a short check that found ``addresses`` silent."""
    found = look.liveness([_request(*addresses)], 0.3)
    assert {a.liveness for a in found} == {Liveness.SILENT}
    return replace(_snapshot(tmp_path), liveness=found)


def test_a_confirm_check_does_not_wait_for_a_short_look(tmp_path: Path) -> None:
    """The confirm check (a cold wait) cannot take a short look's answer: it takes the
    confirm look's, instead of waiting for the short look in progress."""
    gate = threading.Event()
    short = FakeWire(gate=gate)
    cold = FakeWire()

    look = LookAhead(0.3, functools.partial(_by_wait, short, cold))
    seen = _snapshot(tmp_path)
    look.learn(seen)
    look.container_done(DEAD)  # held at the gate
    # the same snapshot, not a new copy: rewriting the file while the short look reads it
    # could show that look no line left, and it would end at once (seen in CI)
    snap = replace(seen, liveness=(AddressLiveness("proj_default", A, SILENT),))
    look.confirm(snap, 1.5)
    began = time.monotonic()
    answers = look.liveness([_request(A)], 1.5)  # returns although the short look is held
    # waiting for that look would take its whole budget (2 s) here: the gate stays shut
    assert time.monotonic() - began < 1.0
    assert [a.liveness for a in answers] == [SILENT] and cold.waits == [1.5]
    assert not look.join(0.01)  # the short look still runs
    gate.set()
    _settle(look)


def test_a_confirm_check_asks_a_new_line_with_the_short_wait(tmp_path: Path) -> None:
    """An address no confirm look was meant for (a line new since the check that found
    silence) is asked as a short check would; its silent answer says so, and gets a
    confirm of its own."""
    short, cold = FakeWire(), FakeWire()
    look = LookAhead(0.3, functools.partial(_by_wait, short, cold))
    look.confirm(_silent_found(look, tmp_path, A), 1.5)
    _settle(look)
    answers = look.liveness([_request(A, B)], 1.5)
    assert [(a.address, a.liveness, a.waited) for a in answers] == [
        (A, SILENT, 1.5),  # the confirm look's
        (B, SILENT, 0.3),
    ]
    assert cold.asked == [(("proj_default", A),)]
    assert short.asked[-1] == (("proj_default", B),) and short.waits[-1] == 0.3
    assert to_confirm(answers, 1.5, 1.5) == {"proj_default"}  # B's confirm comes next
    assert to_confirm(answers[:1], 1.5, 1.5) == frozenset()  # A is confirmed


def test_a_confirm_check_asks_with_the_cold_wait_where_the_confirm_look_failed(
    tmp_path: Path,
) -> None:
    short, cold = FakeWire(), FakeWire()
    failures: list[float] = []

    def wire(
        requests: Sequence[LivenessRequest], timeout: float, stopper: object
    ) -> tuple[AddressLiveness, ...]:
        if stopper is not None and timeout == 1.5:  # the confirm look (a look has one)
            failures.append(timeout)
            raise RuntimeError("no agent")
        return _by_wait(short, cold, requests, timeout, stopper)

    look = LookAhead(0.3, wire)
    look.confirm(_silent_found(look, tmp_path, A), 1.5)
    _settle(look)
    assert failures == [1.5] and look.failed == 1
    answers = look.liveness([_request(A, B)], 1.5)
    assert cold.asked == [(("proj_default", A), ("proj_default", B))]
    assert [a.waited for a in answers] == [1.5, 1.5]


def test_no_look_for_a_line_netavark_removed_or_an_unknown_container(tmp_path: Path) -> None:
    wire = FakeWire()
    look = LookAhead(0.3, wire)
    look.learn(_snapshot(tmp_path, lines_left=False))
    look.container_done(DEAD)  # its line is gone from the file: the teardown worked
    look.container_done("f" * 64)  # no line of it was seen
    _settle(look)
    assert wire.asked == []


def test_looks_at_once_are_bounded_per_wait_and_one_address_is_looked_at_once(
    tmp_path: Path,
) -> None:
    gate = threading.Event()
    wire = FakeWire(gate=gate)
    look = LookAhead(0.3, wire)
    look.learn(_snapshot(tmp_path))
    look.container_done(DEAD)
    look.container_done(DEAD)  # the same address, the same wait: already being looked at
    assert look.started == 1
    for i in range(MAX_LOOKS + 3):
        address = IPv4Address(f"10.89.0.{100 + i}")
        look._start(keys_of(_requests(address)), functools.partial(_requests, address), 0.3)
    assert look.started == MAX_LOOKS
    # the confirm looks have a budget of their own: the events' looks do not starve them
    look._start(keys_of(_requests(B)), functools.partial(_requests, B), 1.5)
    assert look.started == MAX_LOOKS + 1
    gate.set()
    _settle(look)


def test_a_failing_look_is_counted_and_leaves_the_check_to_ask(tmp_path: Path) -> None:
    calls: list[int] = []

    def broken(
        requests: Sequence[LivenessRequest], timeout: float, stopper: object
    ) -> tuple[AddressLiveness, ...]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("agent failed")
        return FakeWire()(requests, timeout)

    look = LookAhead(0.3, broken)
    look.learn(_snapshot(tmp_path))
    look.container_done(DEAD)
    _settle(look)
    assert look.failed == 1
    answers = look.liveness([_request(A)], 0.3)
    assert [a.liveness for a in answers] == [Liveness.SILENT] and len(calls) == 2


def test_looks_are_ended_when_the_watcher_stops_and_checks_asks_are_not_theirs(
    tmp_path: Path,
) -> None:
    """A look's agents get the look-ahead's stopper (the watcher kills them when it
    stops); a check's own ask gets none, so stopping never turns its answers UNKNOWN."""
    given: list[object] = []

    def wire(
        requests: Sequence[LivenessRequest], timeout: float, stopper: object
    ) -> tuple[AddressLiveness, ...]:
        given.append(stopper)
        return FakeWire()(requests, timeout)

    look = LookAhead(0.3, wire)
    look.learn(_snapshot(tmp_path))
    look.container_done(DEAD)
    _settle(look)
    look.liveness([_request(B)], 0.3)
    assert given[0] is look._stopper and given[1] is None
    assert look.stop(1.0) and look._stopper.stopped.is_set()
