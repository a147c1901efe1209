"""Which names are asked of a dnsname network's dnsmasq, and what its answers mean."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path

from aardcheck.dnsname.hosts_format import parse_hosts
from aardcheck.dnsname.model import DnsnameNetwork, DnsnameRoot
from aardcheck.dnsname.probing import check_dnsname_answers, plan_dnsname_probes
from aardcheck.models import (
    Attachment,
    Container,
    Network,
    PodmanState,
    ProbeAnswer,
    ProbeStatus,
    ProbeTry,
    Subnet,
)

NET = Network(
    name="web",
    id="n",
    interface="cni-podman3",
    subnets=(Subnet(ip_network("10.89.3.0/24"), ip_address("10.89.3.1")),),
)
LIVE = Container(
    "a" * 64,
    "web-live",
    "running",
    (Attachment("web", ipv4=(ip_address("10.89.3.2"),), aliases=("app",)),),
    sandbox_key="/run/netns/live",
)
STATE = PodmanState(containers=(LIVE,), networks=(NET,))
HOSTS = b"10.89.3.2\tweb-live\tapp\taaaaaaaaaaaa\n10.89.3.9\tweb-dead\tapp\tbbbbbbbbbbbb\n"
ROOT = DnsnameRoot(
    Path("/x"), True, (DnsnameNetwork("web", Path("/x/web"), lines=parse_hosts(HOSTS)),)
)


def _answer(name: str, *tries: ProbeTry) -> ProbeAnswer:
    return ProbeAnswer("web", name, "A", ip_address("10.89.3.1"), tries)


def _got(*addresses: str) -> ProbeTry:
    return ProbeTry(ProbeStatus.ANSWER, frozenset(ip_address(a) for a in addresses))


def test_plan_asks_every_name_of_members_and_lines_from_a_member() -> None:
    (probe,), skipped = plan_dnsname_probes(ROOT, STATE)
    assert skipped == ()
    assert (probe.network, str(probe.server), probe.netns_path, str(probe.source)) == (
        "web",
        "10.89.3.1",
        "/run/netns/live",
        "10.89.3.2",
    )
    assert probe.names == ("app", "web-dead", "web-live")  # short ids are not asked


def test_plan_without_a_running_member_says_so() -> None:
    stopped = PodmanState(containers=(), networks=(NET,))
    planned, skipped = plan_dnsname_probes(ROOT, stopped)
    assert planned == () and [(s.network, s.reason) for s in skipped] == [
        ("web", "no running member to ask from")
    ]


def test_a_dead_address_served_is_critical_and_a_live_one_missing_an_error() -> None:
    answers = [
        _answer("app", _got("10.89.3.2", "10.89.3.9")),
        _answer("web-live", ProbeTry(ProbeStatus.NXDOMAIN)),
    ]
    found = {
        (str(f.kind), f.name, f.address, str(f.severity))
        for f in check_dnsname_answers(STATE, answers)
    }
    assert found == {
        ("dns-mismatch", "app", "10.89.3.9", "critical"),
        ("dns-mismatch", "web-live", "10.89.3.2", "error"),
    }


def test_right_answers_are_no_finding() -> None:
    answers = [_answer("app", _got("10.89.3.2")), _answer("web-live", _got("10.89.3.2"))]
    assert list(check_dnsname_answers(STATE, answers)) == []


def test_every_try_timing_out_is_resolver_down() -> None:
    silent = ProbeTry(ProbeStatus.TIMEOUT)
    answers = [_answer("app", silent, silent), _answer("web-live", silent)]
    (finding,) = check_dnsname_answers(STATE, answers)
    assert (str(finding.kind), finding.address) == ("resolver-down", "10.89.3.1")
