"""``preflight.select``: what ``up`` does with each network, and its hazards. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network
from pathlib import Path

import pytest

from aardcheck.compose.preflight import Selection, host_route_subnets, select
from aardcheck.compose.project import ComposeNetwork, ComposeProject
from aardcheck.models import (
    DnsDirectory,
    Entry,
    Header,
    Network,
    NetworkFile,
    PodmanState,
    RunDir,
    Scope,
    Subnet,
)

RUN = RunDir(Path("/run/containers/networks"), Scope.ROOTFUL, 0)


def net(name: str, subnet: str) -> Network:
    sub = IPv4Network(subnet)
    return Network(name, name, subnets=(Subnet(sub, next(sub.hosts())),))


def file(name: str, gateway: str, *dead: str) -> NetworkFile:
    entries = tuple(
        Entry(i + 2, "", f"{i:064x}", (IPv4Address(a),), (), (f"c{i}",)) for i, a in enumerate(dead)
    )
    header = Header(1, (ip_address(gateway),))
    return NetworkFile(RUN.dns_dir / name, name, False, b"", header, entries)


def cnet(name: str, *subnets: str, external: bool = False, lookup: str = "") -> ComposeNetwork:
    return ComposeNetwork(name, name, external, ("web",), tuple(subnets), lookup)


def run(
    nets: Sequence[ComposeNetwork],
    live: Sequence[Network] = (),
    files: Sequence[NetworkFile] = (),
    routes: Sequence[str] = (),
) -> Selection:
    project = ComposeProject("p", "-p", "/srv/p", ("compose.yaml",), tuple(nets))
    state = PodmanState((), tuple(live))
    directory = DnsDirectory(RUN, True, tuple(files))
    return select(project, state, directory, [ip_network(r) for r in routes])


def summary(sel: Selection) -> tuple[object, ...]:
    return (
        [(s.network.name, s.plan, bool(s.leftover_file), s.likely_subnet) for s in sel.statuses],
        sorted(sel.check),
        sorted((h.kind, h.network) for h in sel.hazards),
    )


# fmt: off
CASES = [
    ("new-network-free-pool", run([cnet("p_default")]), ([("p_default", "create", False, "10.89.0.0/24")], [], [])),  # noqa: E501
    ("reuses-live-network", run([cnet("p_default")], [net("p_default", "10.89.0.0/24")]), ([("p_default", "reuse", False, "")], ["p_default"], [])),  # noqa: E501
    ("leftover-file-same-name", run([cnet("p_default")], files=[file("p_default", "10.89.7.1", "10.89.7.2")]), ([("p_default", "create", True, "10.89.0.0/24")], ["p_default"], [])),  # noqa: E501
    ("next-subnet-has-orphan", run([cnet("p_default")], [net("a", "10.89.0.0/24")], [file("old", "10.89.1.1", "10.89.1.5")]), ([("p_default", "create", False, "10.89.1.0/24")], ["old"], [("subnet-reuse", "p_default")])),  # noqa: E501
    ("orphan-elsewhere-ignored", run([cnet("p_default")], files=[file("old", "10.89.9.1", "10.89.9.5")]), ([("p_default", "create", False, "10.89.0.0/24")], [], [])),  # noqa: E501
    ("route-skipped", run([cnet("p_default")], routes=["10.89.0.0/23"]), ([("p_default", "create", False, "10.89.2.0/24")], [], [])),  # noqa: E501
    ("two-new-networks", run([cnet("p_a"), cnet("p_b")], [net("x", "10.89.1.0/24")]), ([("p_a", "create", False, "10.89.0.0/24"), ("p_b", "create", False, "10.89.2.0/24")], [], [])),  # noqa: E501
    ("pinned-collides-live", run([cnet("p_default", "10.5.0.0/16")], [net("x", "10.5.3.0/24")]), ([("p_default", "create", False, "")], [], [("subnet-in-use", "p_default")])),  # noqa: E501
    ("pinned-collides-route", run([cnet("p_default", "192.168.1.0/24")], routes=["192.168.0.0/16"]), ([("p_default", "create", False, "")], [], [("subnet-in-use", "p_default")])),  # noqa: E501
    ("pinned-on-orphan", run([cnet("p_default", "10.7.0.0/24")], files=[file("old", "10.7.0.1", "10.7.0.9")]), ([("p_default", "create", False, "")], ["old"], [("subnet-reuse", "p_default")])),  # noqa: E501
    ("external-missing", run([cnet("ext", external=True)]), ([("ext", "missing-external", False, "")], [], [("external-missing", "ext")])),  # noqa: E501
    ("external-present", run([cnet("ext", external=True)], [net("ext", "10.89.0.0/24")]), ([("ext", "external", False, "")], ["ext"], [])),  # noqa: E501
]
# fmt: on


@pytest.mark.parametrize(
    ("selection", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_select(selection: Selection, expected: tuple[object, ...]) -> None:
    assert summary(selection) == expected


def test_external_lookup_name_in_fix() -> None:
    sel = run([cnet("e", external=True, lookup="real")])
    assert sel.hazards[0].fix == "podman network create real"


def test_host_routes_parsed(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "podman1\t0059590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    )
    assert host_route_subnets(route) == [ip_network("192.168.0.0/24"), ip_network("10.89.89.0/24")]
    assert host_route_subnets(tmp_path / "missing") == []
