"""The watcher's check step with podman replaced by literals: failures are reported once
and retried, vanished networks resolve, events are routed to their networks."""

from __future__ import annotations

import io
import ipaddress
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aardcheck.checks.analysis import analyse
from aardcheck.errors import EnvironmentUnavailable, UsageError
from aardcheck.findings import CheckContext, CheckResult, Finding, Kind, Severity
from aardcheck.models import AddressLiveness, Liveness, Snapshot
from aardcheck.runner.options import CheckOptions
from aardcheck.watch import early, service
from aardcheck.watch.early import GIVE_UP_AFTER, PATIENCE_SPAN, PROBE_STOPPED, ProbePatience
from aardcheck.watch.followups import CONFIRM_AFTER, CONFIRM_SILENT, LOOK_AGAIN
from aardcheck.watch.options import WatchOptions
from aardcheck.watch.output import Reporter
from aardcheck.watch.podman_events import PodmanEvent
from aardcheck.watch.schedule import Batch
from aardcheck.watch.service import Watcher
from tests.scenario_loader import load_scenario

NET = "proj_default"
DEAD = "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"


class FakeLink:
    url = "unix:///fake.sock"

    def session(self) -> Any:
        return object()

    def healthy(self) -> bool:
        return True

    def drop(self) -> None:
        pass

    def release(self) -> bool:
        return False

    def events_url(self) -> str:
        return self.url

    close = drop


def result_of(snapshot: Snapshot) -> CheckResult:
    return CheckResult(snapshot, analyse(snapshot), CheckContext(run_dir="/x", scope="rootful"))


def make_watcher(
    monkeypatch: pytest.MonkeyPatch,
    check: Callable[[Any, CheckOptions], CheckResult],
    networks: frozenset[str] = frozenset(),
) -> tuple[Watcher, io.StringIO]:
    err = io.StringIO()
    options = WatchOptions(check=CheckOptions(networks=networks), settle=0)
    watcher = Watcher(options, Reporter(json_output=False, err=err, journal=False))
    watcher.link = FakeLink()  # type: ignore[assignment]
    monkeypatch.setattr(
        service, "check_with", lambda session, options, *hooks: check(session, options)
    )
    monkeypatch.setattr(watcher.dirs, "add", lambda dirs: [])
    return watcher, err


def lines(err: io.StringIO) -> list[str]:
    return [ln.removeprefix("aardcheck: ") for ln in err.getvalue().splitlines()]


def test_a_failing_check_is_reported_once_and_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes: list[Exception | CheckResult] = [
        EnvironmentUnavailable("podman API does not answer"),
        EnvironmentUnavailable("podman API does not answer"),
        result_of(load_scenario("healthy")),
    ]

    def check(session: Any, options: CheckOptions) -> CheckResult:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    watcher, err = make_watcher(monkeypatch, check)
    watcher.check(Batch(None, ("start",)))
    assert watcher.timetable.next_at() is not None  # a retry is promised
    watcher.check(Batch(None, ("retry",)))
    watcher.check(Batch(None, ("retry",)))
    assert lines(err) == [
        "check failed: podman API does not answer; retrying with back-off",
        "checks work again",
    ]
    assert watcher.retry.failures == 0


def test_a_bug_in_a_check_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def check(session: Any, options: CheckOptions) -> CheckResult:
        raise ZeroDivisionError("oops")

    watcher, err = make_watcher(monkeypatch, check)
    watcher.check(Batch(None, ("start",)))
    assert lines(err)[0].startswith("check failed: ZeroDivisionError: oops (at test_service.py:")


def test_findings_of_a_vanished_network_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = result_of(load_scenario("seed-dead-alias"))
    calls: list[frozenset[str]] = []

    def check(session: Any, options: CheckOptions) -> CheckResult:
        calls.append(options.networks)
        if len(calls) == 1:
            return stale
        raise UsageError(f"no network named {NET}")

    watcher, err = make_watcher(monkeypatch, check)
    monkeypatch.setattr(service, "known_networks", lambda session, run_dir: frozenset())
    watcher.check(Batch(None, ("start",)))
    assert f"appeared: error dead-entry network={NET}" in err.getvalue()
    watcher.check(Batch(frozenset({NET}), (f"{NET} deleted",)))
    assert calls == [frozenset(), frozenset({NET})]
    assert f"resolved: dead-entry network={NET}" in err.getvalue()
    assert watcher.tracker.current == ()


def test_a_selected_network_that_does_not_exist_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    healthy = result_of(load_scenario("healthy"))

    def check(session: Any, options: CheckOptions) -> CheckResult:
        if "later" in options.networks:
            raise UsageError("no network named later")
        return replace(healthy, snapshot=replace(healthy.snapshot, selected=options.networks))

    watcher, err = make_watcher(monkeypatch, check, frozenset({NET, "later"}))
    monkeypatch.setattr(service, "known_networks", lambda session, run_dir: frozenset({NET}))
    watcher.check(Batch(None, ("start",)))
    watcher.check(Batch(None, ("interval",)))
    assert lines(err) == ["network later does not exist (yet)"]


def test_podman_events_go_to_the_networks_of_known_containers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher, _ = make_watcher(monkeypatch, lambda s, o: result_of(load_scenario("seed-dead-alias")))
    watcher.check(Batch(None, ("start",)))
    before = watcher.signal.requests
    watcher._on_podman_event(PodmanEvent("container", "remove", DEAD, "old", 0))
    assert watcher.signal.requests == before + 1
    watcher._on_podman_event(PodmanEvent("container", "start", "f" * 64, "new", 0))
    assert watcher.signal.requests == before + 1  # unknown: its file change will tell


def test_podman_done_with_a_container_looks_ahead_for_the_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ``remove`` for a container whose line is still in its file starts the ARP/NDP
    look at once; the watcher's checks get the look-ahead as their liveness source."""
    asked: list[tuple[Any, ...]] = []
    sources: list[Any] = []

    def wire(requests: Any, timeout: float, stopper: Any) -> tuple[AddressLiveness, ...]:
        asked.append(tuple((r.network, a) for r in requests for a in r.addresses))
        return tuple(
            AddressLiveness(r.network, a, Liveness.SILENT) for r in requests for a in r.addresses
        )

    # no address found silent yet: no confirm look
    unlooked = replace(load_scenario("seed-dead-alias"), liveness=())
    watcher, _ = make_watcher(monkeypatch, lambda s, o: result_of(unlooked))
    watcher.lookahead._looker = wire
    watcher.check(Batch(None, ("start",)))
    watcher._on_podman_event(PodmanEvent("container", "died", DEAD, "old", 0))
    assert watcher.lookahead.started == 0  # not done with yet
    watcher._on_podman_event(PodmanEvent("container", "remove", DEAD, "old", 0))
    assert watcher.lookahead.started == 1
    assert watcher.lookahead.join(5)
    assert asked == [((NET, ipaddress.ip_address("10.89.0.2")),)]

    def check(session: Any, options: CheckOptions, *hooks: Any) -> CheckResult:
        sources.append(hooks[-1])
        return result_of(load_scenario("seed-dead-alias"))

    monkeypatch.setattr(service, "check_with", check)
    watcher.check(Batch(frozenset({NET}), ("container old remove",)))
    assert sources == [watcher.lookahead.liveness]


def test_a_line_that_outlived_its_container_needs_no_settle_period(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """podman's ``remove`` event may come seconds late (4.3): a dead line of a container
    the last listing had, whose file still holds it after this listing lost the
    container, is reported at once; one whose line is gone from the file by then (a
    teardown in progress), or of a container podman never listed (another store's, or
    one newer than the listing), waits its settle period."""
    seed = load_scenario("seed-dead-alias")
    text = seed.directory.files[0].path.read_text()
    copy = tmp_path / NET
    files = (replace(seed.directory.files[0], path=copy),)
    snapshot = replace(seed, directory=replace(seed.directory, files=files))
    for left, listed, reported in ((False, True, False), (True, False, False), (True, True, True)):
        copy.write_text(text if left else text.replace(DEAD, "0" * 64))
        err = io.StringIO()
        options = WatchOptions(check=CheckOptions(), settle=30)
        watcher = Watcher(options, Reporter(json_output=False, err=err, journal=False))
        watcher.link = FakeLink()  # type: ignore[assignment]
        monkeypatch.setattr(service, "check_with", lambda session, o, *hooks: result_of(snapshot))
        monkeypatch.setattr(watcher.dirs, "add", lambda dirs: [])
        watcher._listed = frozenset({DEAD}) if listed else frozenset()
        watcher.check(Batch(None, ("start",)))
        assert bool([ln for ln in lines(err) if " dead-entry " in ln]) is reported


def test_a_removed_containers_line_on_another_network_is_checked_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A check of one network whose listing lost a container also holding a line on
    another network: that network is checked at once, with the container still taken as
    listed before, so its line there needs no settle period either."""
    seed = load_scenario("seed-dead-alias")
    text = seed.directory.files[0].path.read_text()
    (tmp_path / NET).write_text(text)
    (tmp_path / "net_b").write_text(text)
    files = (
        replace(seed.directory.files[0], path=tmp_path / NET),
        replace(seed.directory.files[0], network="net_b", path=tmp_path / "net_b"),
    )
    (net,) = (n for n in seed.podman.networks if n.name == NET)
    podman = replace(seed.podman, networks=(*seed.podman.networks, replace(net, name="net_b")))
    liveness = (*seed.liveness, *(replace(a, network="net_b") for a in seed.liveness))
    snapshot = replace(
        seed, directory=replace(seed.directory, files=files), podman=podman, liveness=liveness
    )
    err = io.StringIO()
    watcher = Watcher(
        WatchOptions(check=CheckOptions(), settle=30),
        Reporter(json_output=False, err=err, journal=False),
    )
    watcher.link = FakeLink()  # type: ignore[assignment]
    monkeypatch.setattr(service, "check_with", lambda session, o, *hooks: result_of(snapshot))
    monkeypatch.setattr(watcher.dirs, "add", lambda dirs: [])
    watcher._listed = frozenset({DEAD})
    watcher.check(Batch(frozenset({NET}), ("podman event",)))
    dead = [ln for ln in lines(err) if " dead-entry " in ln]
    assert len(dead) == 1 and NET in dead[0]
    assert DEAD in watcher._listed  # still "listed before" for the other network's check
    batch = watcher.timetable.take(time.monotonic())
    assert batch is not None and batch.networks == {"net_b"}
    assert early.LINES_ELSEWHERE in batch.reasons
    watcher.check(batch)
    dead = [ln for ln in lines(err) if " dead-entry " in ln]
    assert len(dead) == 2 and "net_b" in dead[1]
    assert DEAD not in watcher._listed
    assert watcher.timetable.take(time.monotonic()) is None


def test_events_outside_the_selection_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    watcher, _ = make_watcher(
        monkeypatch, lambda s, o: result_of(load_scenario("seed-dead-alias")), frozenset({"other"})
    )
    watcher._request(frozenset({NET}), "proj_default modified")
    assert watcher.signal.requests == 0
    watcher._request(None, "directory created")
    assert watcher.signal.requests == 1


def test_a_resolver_down_is_probed_again_soon_and_cleared_by_an_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No event comes when aardvark-dns answers again: the network is looked at again
    after seconds (not at the next full check), and the first answer clears it."""
    healthy = load_scenario("healthy")
    down = Finding(Kind.RESOLVER_DOWN, NET, address="10.89.0.1", severity=Severity.CRITICAL)
    outcomes = [
        CheckResult(healthy, (down,), CheckContext(run_dir="/x", scope="rootful")),
        result_of(healthy),
    ]
    watcher, err = make_watcher(monkeypatch, lambda session, options: outcomes.pop(0))
    watcher.check(Batch(None, ("start",)))
    assert watcher.tracker.current == (down,)
    due = watcher.timetable.next_at()
    assert due is not None and due - time.monotonic() <= LOOK_AGAIN[Kind.RESOLVER_DOWN][0]
    batch = watcher.timetable.take(due)
    assert batch is not None and batch.networks == frozenset({NET})
    watcher.check(batch)
    assert f"resolved: resolver-down network={NET}" in err.getvalue()


def test_findings_without_the_probe_are_reported_before_the_probe_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stale line is reported from the check's early part: a probe that times out
    (aardvark-dns 1.4 reloading) does not delay it, and it is reported once."""
    snapshot = load_scenario("seed-dead-alias")
    early_findings = analyse(snapshot)
    assert any(f.kind is Kind.DEAD_ENTRY for f in early_findings)
    down = Finding(Kind.RESOLVER_DOWN, NET, address="10.89.0.1", severity=Severity.CRITICAL)
    watcher, err = make_watcher(monkeypatch, lambda s, o: result_of(snapshot))
    before_probe: list[list[str]] = []

    def check(
        session: Any, options: CheckOptions, early: Callable[[Snapshot], None], *hooks: Any
    ) -> Any:
        early(snapshot)
        before_probe.append(lines(err))
        whole = result_of(snapshot)
        return replace(whole, findings=(*whole.findings, down))

    monkeypatch.setattr(service, "check_with", check)
    watcher.check(Batch(None, ("start",)))
    (seen,) = before_probe
    assert [ln for ln in seen if " dead-entry " in ln] and not [ln for ln in seen if "down" in ln]
    after = lines(err)
    assert [ln for ln in after if " dead-entry " in ln] == [
        ln for ln in seen if " dead-entry " in ln
    ]
    assert [ln for ln in after if ln.startswith("appeared: critical resolver-down")]
    assert set(watcher.tracker.current) == {*early_findings, down}


def test_silent_addresses_are_confirmed_later_not_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The short ARP wait found an address silent: the check that waits the cold time
    for it comes ``CONFIRM_AFTER`` later (a line in transit is gone by then), so it does
    not hold up the checks that events ask for meanwhile; the look with the cold wait
    starts at once, beside the checks, for that check to take."""
    snapshot = load_scenario("seed-dead-alias")
    assert any(a.liveness is Liveness.SILENT for a in snapshot.liveness)
    watcher, _ = make_watcher(monkeypatch, lambda s, o: result_of(snapshot))
    looks: list[float] = []

    def wire(requests: Any, wait: float, stopper: Any) -> tuple[AddressLiveness, ...]:
        looks.append(wait)
        return ()

    watcher.lookahead._looker = wire
    before = time.monotonic()
    watcher.check(Batch(None, ("start",)))
    assert watcher.lookahead.join(5)
    assert looks == [watcher.cold_wait]
    due = watcher.timetable.next_at()
    assert due is not None and due >= before + CONFIRM_AFTER
    assert watcher.timetable.take(time.monotonic()) is None
    confirm = watcher.timetable.take(due)
    assert confirm is not None and CONFIRM_SILENT in confirm.reasons


def test_a_check_that_stopped_its_probe_leaves_the_probes_findings_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A check that stopped its probe (new work came while aardvark-dns 1.4 left it in
    a timeout) neither raises nor clears the probe's findings, is not a state to answer
    from, and is followed at once by a check that probes again."""
    healthy = load_scenario("healthy")
    down = Finding(Kind.RESOLVER_DOWN, NET, address="10.89.0.1", severity=Severity.CRITICAL)
    stopped = replace(result_of(healthy), probe_stopped=True)
    outcomes = [CheckResult(healthy, (down,), CheckContext(run_dir="/x", scope="rootful")), stopped]
    asked: list[Any] = []

    def check(session: Any, options: CheckOptions, early: Any, give_up: Any, look: Any) -> Any:
        asked.append(give_up)
        return outcomes.pop(0)

    watcher, err = make_watcher(monkeypatch, lambda s, o: result_of(healthy))
    monkeypatch.setattr(service, "check_with", check)
    watcher.check(Batch(None, ("start",)))
    answered_at = watcher.answers._latest_at
    before = time.monotonic()
    watcher.check(Batch(frozenset({NET}), ("podman event",)))
    assert watcher.tracker.current == (down,)  # not cleared by a check without the probe
    assert "resolved" not in err.getvalue()
    assert watcher.answers._latest_at == answered_at  # nothing to answer from
    follow = watcher.timetable.take(time.monotonic())
    assert follow is not None and PROBE_STOPPED in follow.reasons
    assert follow.networks == frozenset({NET})
    next_at = watcher.timetable.next_at()
    assert next_at is None or next_at >= before
    outcomes.append(result_of(healthy))
    watcher.check(follow)
    assert asked[0] is None and asked[1] is not None  # the first check waits for its probe
    assert f"resolved: resolver-down network={NET}" in err.getvalue()


def test_patience_stops_a_probe_in_a_timeout_for_new_work_for_a_bounded_span() -> None:
    requests, now = [0], [100.0]
    patience = ProbePatience(lambda: requests[0], lambda: now[0])
    assert patience.for_check() is None  # no probe waited for yet (the first check)
    patience.ended(False)
    give_up = patience.for_check()
    assert give_up is not None
    assert not give_up(GIVE_UP_AFTER + 1)  # no new work: wait for the probe
    requests[0] += 1
    assert not give_up(GIVE_UP_AFTER / 2)  # a probe that may still answer in time
    assert give_up(GIVE_UP_AFTER)
    patience.ended(True)
    now[0] += PATIENCE_SPAN / 2
    assert patience.for_check() is not None  # stopped again, within the span
    patience.ended(True)
    now[0] += PATIENCE_SPAN / 2
    assert patience.for_check() is None  # the span is over: this check waits
    patience.ended(False)
    assert patience.for_check() is not None
