"""Probe answers -> dns-mismatch / resolver-down. One line per case."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

import pytest

from aardcheck.checks.analysis import analyse
from aardcheck.checks.probe_plan import plan_probes
from aardcheck.findings import Kind
from aardcheck.models import ProbeAnswer, ProbeSkipped, ProbeStatus, ProbeTry
from tests.scenario_loader import load_scenario

N = "proj_default"
GW = ip_address("10.89.0.1")


def ans(name: str, *tries: tuple[ProbeStatus, tuple[str, ...]], rdtype: str = "A") -> ProbeAnswer:
    return ProbeAnswer(
        network=N,
        name=name,
        rdtype=rdtype,
        server=GW,
        tries=tuple(
            ProbeTry(status=s, addresses=frozenset(ip_address(a) for a in addrs), ttl=86400)
            for s, addrs in tries
        ),
    )


OK = ProbeStatus.ANSWER
NX = ProbeStatus.NXDOMAIN
TO = ProbeStatus.TIMEOUT


def probe_findings(*answers: ProbeAnswer) -> set[tuple[str, str, str]]:
    snap = replace(load_scenario("healthy"), probes=answers, probed=True)
    return {(str(f.kind), f.name, f.address) for f in analyse(snap)}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ((ans("web", (OK, ("10.89.0.3",))),), set()),
        ((ans("app", (OK, ("10.89.0.3", "10.89.0.2"))),), {("dns-mismatch", "app", "10.89.0.2")}),
        ((ans("web", (NX, ())),), {("dns-mismatch", "web", "10.89.0.3")}),
        ((ans("db", (OK, ("10.89.0.4",)), (OK, ())),), {("dns-mismatch", "db", "")}),
        (
            (ans("web", (OK, ("10.89.0.3",)), (TO, ())), ans("db", (OK, ("10.89.0.4",)))),
            {("dns-mismatch", "web", "")},
        ),
        ((ans("web", (TO, ())), ans("db", (TO, ()))), {("resolver-down", "", "10.89.0.1")}),
        ((ans("gone", (NX, ())),), set()),
        ((ans("web", (ProbeStatus.NOANSWER, ()), rdtype="AAAA"),), set()),
    ],
)
def test_probe_answers(
    answers: tuple[ProbeAnswer, ...], expected: set[tuple[str, str, str]]
) -> None:
    assert probe_findings(*answers) == expected


def test_stale_answer_mentions_long_ttl() -> None:
    snap = replace(
        load_scenario("healthy"),
        probes=(ans("app", (OK, ("10.89.0.3", "10.89.0.2"))),),
        probed=True,
    )
    (f,) = analyse(snap)
    assert "TTL 86400" in f.message


def test_skipped_probe_is_reported_not_silent() -> None:
    snap = replace(
        load_scenario("healthy"),
        probe_skipped=(ProbeSkipped(N, "namespace vanished"),),
        probed=True,
    )
    (f,) = analyse(snap)
    assert f.kind is Kind.UNCHECKED and "namespace vanished" in f.message


def test_plan_asks_every_name_from_a_member() -> None:
    (planned,), skipped = plan_probes(load_scenario("seed-dead-alias"))
    assert skipped == ()
    assert planned.server == GW and planned.rdtypes == ("A",)
    assert set(planned.names) >= {"web", "app", "old"}
    assert planned.netns_path == "/proc/101/ns/net" and str(planned.source) == "10.89.0.3"


def test_plan_skips_a_network_without_running_members() -> None:
    planned, (skip,) = plan_probes(load_scenario("stopped"))
    assert planned == () and "no running container" in skip.reason
