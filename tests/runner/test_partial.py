"""``gather``'s early part: the snapshot without the probe's answers is handed over
before the probe ends, and the findings decided from it are the whole check's."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aardcheck.checks.analysis import analyse, needs_probe
from aardcheck.findings import Finding, Kind
from aardcheck.models import ProbeAnswer, ProbeSkipped, ProbeStatus, ProbeTry, Snapshot
from aardcheck.runner import check as runner
from aardcheck.runner.options import CheckOptions
from aardcheck.sources.podman_host import HostInfo
from tests.scenario_loader import SCENARIOS, load_scenario

INFO = HostInfo("4.3.1", rootless=False, run_root=Path("/run/x"), network_backend="netavark", uid=0)
CASES = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())


class FakeSession:
    prefetched_at = None

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def state(self, *, early: bool = False) -> Any:
        return self.snapshot.podman

    def host_info(self) -> HostInfo:
        return INFO

    url = "unix:///fake.sock"
    private = False


def fake_sources(monkeypatch: pytest.MonkeyPatch, snapshot: Snapshot) -> None:
    monkeypatch.setattr(runner, "read_dns_directory", lambda run_dir, version: snapshot.directory)
    monkeypatch.setattr(runner, "_liveness", lambda s, info, timeout, source: snapshot.liveness)


def test_the_partial_snapshot_comes_before_the_probe_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = load_scenario("seed-dead-alias")
    fake_sources(monkeypatch, snapshot)
    handed: list[Snapshot] = []
    partial_seen = threading.Event()
    probe_saw_partial: list[bool] = []
    answer = ProbeAnswer(
        "proj_default", "web", "A", ip_address("10.89.0.1"), (ProbeTry(ProbeStatus.TIMEOUT),)
    )

    def probe(s: Snapshot, info: HostInfo, options: CheckOptions, stopper: Any) -> Any:
        # a probe that only ends once the early part was handed over (bounded wait)
        probe_saw_partial.append(partial_seen.wait(timeout=10))
        return (answer,), (ProbeSkipped("other", "no running member"),)

    def on_partial(s: Snapshot) -> None:
        handed.append(s)
        partial_seen.set()

    monkeypatch.setattr(runner, "_probe", probe)
    options = CheckOptions(aardvark_version=snapshot.aardvark_version)
    whole, _, _ = runner.gather(FakeSession(snapshot), options, INFO, on_partial)  # type: ignore[arg-type]
    assert probe_saw_partial == [True]
    (partial,) = handed
    assert not partial.probed and partial.probes == () and partial.probe_skipped == ()
    assert partial.liveness == snapshot.liveness
    assert whole.probed and whole.probes == (answer,)


def test_a_probe_stopped_leaves_the_partial_snapshot_and_has_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watcher's ``give_up`` stops a probe in a timeout: the check returns without
    the probe's answers, and the probe has ended by then (its agents are killed: no
    probe runs on behind the check, none asks about an older listing)."""
    snapshot = load_scenario("seed-dead-alias")
    fake_sources(monkeypatch, snapshot)
    running: list[str] = []

    def probe(s: Snapshot, info: HostInfo, options: CheckOptions, stopper: Any) -> Any:
        running.append("start")
        stopper.stopped.wait(timeout=10)  # a probe in a timeout, until it is stopped
        running.append("end")
        return (), ()

    monkeypatch.setattr(runner, "_probe", probe)
    options = CheckOptions(aardvark_version=snapshot.aardvark_version)
    asked: list[float] = []

    def give_up(ran: float) -> bool:
        asked.append(ran)
        return len(asked) >= 2

    started = time.monotonic()
    result = runner.check_with(FakeSession(snapshot), options, None, give_up)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert running == ["start", "end"]  # stopped, and waited for
    assert result.probe_stopped and not result.snapshot.probed
    assert "probe stopped" in dict(result.phases)
    assert asked == sorted(asked)
    assert not [f for f in result.findings if needs_probe(f)]


def test_a_probe_that_ends_is_waited_for_whatever_give_up_would_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshot = load_scenario("seed-dead-alias")
    fake_sources(monkeypatch, snapshot)
    monkeypatch.setattr(runner, "_probe", lambda s, info, options, stopper: ((), ()))
    options = CheckOptions(aardvark_version=snapshot.aardvark_version)
    result = runner.check_with(FakeSession(snapshot), options, None, lambda ran: False)  # type: ignore[arg-type]
    assert result.snapshot.probed and not result.probe_stopped


def test_no_probe_no_partial(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot = load_scenario("healthy")
    fake_sources(monkeypatch, snapshot)
    handed: list[Snapshot] = []
    options = CheckOptions(probe=False, aardvark_version=snapshot.aardvark_version)
    runner.gather(FakeSession(snapshot), options, INFO, handed.append)  # type: ignore[arg-type]
    assert handed == []


TRIES = st.lists(
    st.builds(
        ProbeTry,
        status=st.sampled_from(list(ProbeStatus)),
        addresses=st.frozensets(
            st.sampled_from([ip_address("10.89.0.2"), ip_address("10.89.0.5")]), max_size=2
        ),
        ttl=st.sampled_from([None, 0, 86400]),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@pytest.mark.parametrize("case", CASES)
@given(tries=st.lists(TRIES, max_size=6), skipped=st.booleans())
def test_findings_decided_without_the_probe_are_the_whole_checks(
    case: str, tries: list[tuple[ProbeTry, ...]], skipped: bool
) -> None:
    """Whatever the probe answers, the findings that do not need it are the same with
    and without its answers; the ones that need it never come from a partial snapshot."""
    partial = load_scenario(case)
    names = sorted({e.names[0] for f in partial.directory.files for e in f.entries}) or ["x"]
    nets = sorted({f.network for f in partial.directory.files}) or ["n"]
    server = ip_address("10.89.0.1")
    answers = tuple(
        ProbeAnswer(nets[i % len(nets)], names[i % len(names)], "A", server, t)
        for i, t in enumerate(tries)
    )
    gone = (ProbeSkipped(nets[0], "namespace gone"),) if skipped else ()
    whole = replace(partial, probes=answers, probe_skipped=gone, probed=True)

    def decided(found: tuple[Finding, ...]) -> set[Finding]:
        return {f for f in found if not needs_probe(f)}

    early = analyse(partial)
    assert not [f for f in early if needs_probe(f)]
    assert decided(early) == decided(analyse(whole))


def test_needs_probe_names_the_probes_findings() -> None:
    assert needs_probe(Finding(Kind.RESOLVER_DOWN, "n"))
    assert needs_probe(Finding(Kind.DNS_MISMATCH, "n", "web"))
    assert needs_probe(Finding(Kind.UNCHECKED, "n", "probe"))
    assert not needs_probe(Finding(Kind.UNCHECKED, "n", "file"))
    assert not needs_probe(Finding(Kind.DEAD_ENTRY, "n", "web"))
