"""Which names to ask on which network, from where. Pure: Snapshot in, plan out."""

from __future__ import annotations

from dataclasses import dataclass

from aardcheck.checks.facts import Facts
from aardcheck.models import Container, IPAddress, ProbeSkipped, Snapshot


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    network: str
    server: IPAddress
    netns_path: str
    member: str
    #: The member's own address: the probe checks the namespace really holds it (a pid
    #: may have been reused since podman listed it) and asks from exactly there.
    source: IPAddress
    names: tuple[str, ...]
    rdtypes: tuple[str, ...]
    #: Other running members, (netns_path, source address): a silent first attempt (its
    #: member may be leaving) is repeated from the first of them.
    alternates: tuple[tuple[str, IPAddress], ...] = ()


#: Members kept in reserve for a second attempt.
ALTERNATES = 2


def _askers(facts: Facts, network: str, family: int) -> list[tuple[Container, IPAddress]]:
    """Running members that can ask (their namespace known), by name. A member whose
    process is already gone cannot be entered: podman's listing is late, not a reason to
    report the network unchecked."""
    found = []
    for c, att in sorted(facts.members.get(network, ()), key=lambda m: m[0].name):
        source = next((a for a in att.addresses if a.version == family), None)
        if c.sandbox_key and source is not None and not c.process_gone:
            found.append((c, source))
    return found


def _server(facts: Facts, network: str) -> IPAddress | None:
    """aardvark listens on the header's addresses; fall back on podman's gateways."""
    gateways: list[IPAddress] = []
    for f in facts.files.get(network, []):
        if f.header:
            gateways.extend(f.header.gateways)
    net = facts.networks.get(network)
    if net:
        gateways.extend(net.gateways)
    v4 = [g for g in gateways if g.version == 4]
    return v4[0] if v4 else (gateways[0] if gateways else None)


def plan_probes(snapshot: Snapshot) -> tuple[tuple[PlannedProbe, ...], tuple[ProbeSkipped, ...]]:
    facts = Facts.of(snapshot)
    planned: list[PlannedProbe] = []
    skipped: list[ProbeSkipped] = []
    for net in facts.dns_networks():
        names = set(facts.live_names(net.name))
        names |= {n for f in facts.files.get(net.name, []) for e in f.entries for n in e.names}
        names.discard("")
        if not names:
            continue
        server = _server(facts, net.name)
        if server is None:
            skipped.append(ProbeSkipped(net.name, "the network has no gateway address to ask"))
            continue
        askers = _askers(facts, net.name, server.version)
        if not askers:
            skipped.append(
                ProbeSkipped(net.name, "no running container on the network to ask from")
            )
            continue
        member, source = askers[0]
        has_v6 = any(s.subnet.version == 6 for s in net.subnets) or any(
            e.ipv6 for f in facts.files.get(net.name, []) for e in f.entries
        )
        planned.append(
            PlannedProbe(
                network=net.name,
                server=server,
                netns_path=member.sandbox_key,
                member=member.name,
                source=source,
                names=tuple(sorted(names)),
                rdtypes=("A", "AAAA") if has_v6 else ("A",),
                alternates=tuple((c.sandbox_key, a) for c, a in askers[1 : 1 + ALTERNATES]),
            )
        )
    return tuple(planned), tuple(skipped)
