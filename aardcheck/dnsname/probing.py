"""What to ask each dnsname network's dnsmasq, and what its answers mean. Pure.

dnsmasq runs in the host's network namespace, bound to the bridge (``bind-dynamic``,
``interface=BRIDGE``) and answers from ``addnhosts`` whoever asks; aardcheck still asks
from inside a running member (as a container would: its resolv.conf names the gateway),
so a bridge or firewall problem shows up as it does for the containers.

- ``dns-mismatch`` (critical): a name answers an address no running member holds: clients
  connect to a dead address. Fix: ``aardcheck fix`` (prunes the line behind it).
- ``dns-mismatch`` (error): a running member's name does not answer its address.
- ``resolver-down`` (critical): every try of every name timed out: the network's dnsmasq
  is not running or not reachable; no container resolves any name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from aardcheck.dnsname.model import DnsnameRoot
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.models import (
    Container,
    IPAddress,
    PodmanState,
    ProbeAnswer,
    ProbeSkipped,
    ProbeStatus,
)


@dataclass(frozen=True, slots=True)
class DnsnameProbe:
    network: str
    server: IPAddress
    netns_path: str
    source: IPAddress
    names: tuple[str, ...]
    alternates: tuple[tuple[str, IPAddress], ...] = ()


def _members(podman: PodmanState, network: str) -> list[Container]:
    return sorted(
        (
            c
            for c in podman.containers
            if c.owns_network and c.running and c.attachment(network) is not None
        ),
        key=lambda c: c.name,
    )


def plan_dnsname_probes(
    root: DnsnameRoot, podman: PodmanState, selected: frozenset[str] = frozenset()
) -> tuple[tuple[DnsnameProbe, ...], tuple[ProbeSkipped, ...]]:
    """One probe per dnsname network with a running member that can ask (IPv4: the
    plugin's dnsmasq listens on the bridge's addresses, podman names the IPv4 gateway)."""
    planned: list[DnsnameProbe] = []
    skipped: list[ProbeSkipped] = []
    for net in sorted(podman.networks, key=lambda n: n.name):
        if not net.dns_enabled or (selected and net.name not in selected):
            continue
        server = next((g for g in net.gateways if g.version == 4), None)
        askers: list[tuple[str, IPAddress]] = []
        names: dict[str, None] = {}
        for c in _members(podman, net.name):
            names.update(dict.fromkeys(n for n in c.dns_names(net.name) if n != c.short_id))
            att = c.attachment(net.name)
            own = att.ipv4[0] if att and att.ipv4 else None
            if c.sandbox_key and own is not None and not c.process_gone:
                askers.append((c.sandbox_key, own))
        served = root.network(net.name)
        for line in served.lines if served else ():
            if line.defect is None:
                names.update(dict.fromkeys(n.lower() for n in line.names if n != line.short_id))
        if not names:
            continue
        if server is None or not askers:
            why = "no IPv4 gateway" if server is None else "no running member to ask from"
            skipped.append(ProbeSkipped(net.name, why))
            continue
        (netns, source), *rest = askers
        planned.append(
            DnsnameProbe(net.name, server, netns, source, tuple(sorted(names)), tuple(rest[:2]))
        )
    return tuple(planned), tuple(skipped)


def _live(podman: PodmanState, network: str) -> dict[str, set[IPAddress]]:
    live: dict[str, set[IPAddress]] = {}
    for c in _members(podman, network):
        att = c.attachment(network)
        for name in c.dns_names(network):
            live.setdefault(name, set()).update(att.ipv4 if att else ())
    return live


def _answered(answer: ProbeAnswer) -> set[IPAddress]:
    return {a for t in answer.tries if t.status is ProbeStatus.ANSWER for a in t.addresses}


def check_dnsname_answers(podman: PodmanState, answers: Iterable[ProbeAnswer]) -> Iterator[Finding]:
    """Findings from the A answers of dnsname networks' dnsmasq."""
    by_network: dict[str, list[ProbeAnswer]] = {}
    for a in answers:
        if a.rdtype == "A":
            by_network.setdefault(a.network, []).append(a)
    for network, asked in sorted(by_network.items()):
        if all(t.status is ProbeStatus.TIMEOUT for a in asked for t in a.tries):
            yield Finding(
                kind=Kind.RESOLVER_DOWN,
                network=network,
                address=str(asked[0].server),
                severity=Severity.CRITICAL,
                message=f"dnsmasq at {asked[0].server} answered none of {len(asked)} name(s)",
                fix="restart a container of the network (dnsname starts dnsmasq on add)",
            )
            continue
        live = _live(podman, network)
        for a in asked:
            got, want = _answered(a), live.get(a.name, set())
            for address in sorted(got - want, key=str):
                yield Finding(
                    kind=Kind.DNS_MISMATCH,
                    network=network,
                    name=a.name,
                    address=str(address),
                    severity=Severity.CRITICAL,
                    message=f"'{a.name}' answers {address}, which no running member holds",
                    fix=f"aardcheck fix --network {network}",
                )
            for address in sorted(want - got, key=str):
                yield Finding(
                    kind=Kind.DNS_MISMATCH,
                    network=network,
                    name=a.name,
                    address=str(address),
                    severity=Severity.ERROR,
                    message=f"'{a.name}' does not answer live {address}",
                    fix=f"podman network reload --all  # or the container of '{a.name}'",
                )
