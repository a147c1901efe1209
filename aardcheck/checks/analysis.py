"""Runs every check over a Snapshot, applies ignores, sorts. No I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aardcheck.checks import MODULES, dns_answers, unchecked
from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind
from aardcheck.models import IPAddress, Snapshot


@dataclass(frozen=True, slots=True)
class LivenessRequest:
    """Addresses of lines whose container podman does not know, on one live network."""

    network: str
    interface: str
    addresses: tuple[IPAddress, ...]


def sort_key(f: Finding) -> tuple[str, int, str, str, str, str]:
    return (f.network, -int(f.severity), str(f.kind), f.name, f.container_id, f.address)


def needs_probe(f: Finding) -> bool:
    """Whether ``f`` comes from the resolver's answers (a snapshot without them can
    neither raise nor clear it); every other finding is decided without the probe."""
    return f.kind in dns_answers.KINDS or (f.kind is Kind.UNCHECKED and f.name == unchecked.PROBE)


def analyse(snapshot: Snapshot, *, ignore: Iterable[Kind] = ()) -> tuple[Finding, ...]:
    facts = Facts.of(snapshot)
    skip = set(ignore)
    found = {f for mod in MODULES for f in mod.check(facts) if f.kind not in skip}
    return tuple(sorted(found, key=sort_key))


def liveness_requests(snapshot: Snapshot) -> tuple[LivenessRequest, ...]:
    """Which addresses need the second source before a line may be called dead."""
    facts = Facts.of(snapshot)
    wanted: dict[str, set[IPAddress]] = {}
    for f in facts.selected_files():
        net = facts.networks.get(f.network)
        if net is None or not net.interface:
            continue
        for e in f.entries:
            if e.container_id in facts.containers:
                continue
            held = {a for a in e.addresses if (f.network, a) in facts.live_at}
            wanted.setdefault(f.network, set()).update(set(e.addresses) - held)
    return tuple(
        LivenessRequest(n, facts.networks[n].interface, tuple(sorted(a, key=str)))
        for n, a in sorted(wanted.items())
        if a
    )
