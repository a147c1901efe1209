"""``orphan-file``: an aardvark file whose network no longer exists.

``podman network rm`` never deletes the file when a stale line is left in it. A network
re-created under the same name (``podman-compose up``) brings the stale lines back. A live
network that reuses the subnet makes it critical: aardvark 1.4 answers from every file
holding the asker's address or gateway, so that network is poisoned right now; aardvark
1.12+ binds every file's gateway when it starts, so the two files claiming one gateway
make its next start (a reboot, the first container after it died) fail and no network
of the host (or user) resolves. Fix: delete the file.
"""

from __future__ import annotations

from collections.abc import Iterator

from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.models import IPAddress, Network, NetworkFile

KINDS = (Kind.ORPHAN_FILE,)


def _collisions(f: NetworkFile, networks: list[Network]) -> list[Network]:
    addresses: list[IPAddress] = list(f.header.gateways) if f.header else []
    addresses += [a for e in f.entries for a in e.addresses]
    hit = []
    for net in networks:
        if any(
            addr in s.subnet
            for s in net.subnets
            for addr in addresses
            if addr.version == s.subnet.version
        ):
            hit.append(net)
    return hit


def _shares_gateway(f: NetworkFile, networks: list[Network]) -> bool:
    gateways = set(f.header.gateways) if f.header else set()
    return any(s.gateway in gateways for n in networks for s in n.subnets if s.gateway)


def check(facts: Facts) -> Iterator[Finding]:
    for f in facts.selected_files():
        if f.network in facts.networks:
            continue
        names = sorted({n for e in f.entries for n in e.names[:1]})
        hits = _collisions(f, list(facts.networks.values()))
        lines = f"{len(f.entries)} line(s)" + (f" ({', '.join(names)})" if names else "")
        if hits:
            which = ", ".join(
                f"{n.name} ({', '.join(str(s.subnet) for s in n.subnets)})" for n in hits
            )
            harm = "aardvark answers its stale names there"
            if facts.snapshot.aardvark_version.start_checks_listeners and _shares_gateway(f, hits):
                harm += (
                    ", and aardvark-dns cannot start again while both files claim the "
                    "gateway (no network would resolve)"
                )
            message = (
                f"file of deleted network '{f.network}' with {lines} overlaps live "
                f"network {which}: {harm}"
            )
            severity = Severity.CRITICAL
        else:
            message = (
                f"file of deleted network '{f.network}' still holds {lines}: they come back "
                f"if a network named '{f.network}' is created again"
            )
            severity = Severity.WARNING
        yield Finding(
            kind=Kind.ORPHAN_FILE,
            network=f.network,
            severity=severity,
            message=message,
            fix=f"aardcheck fix --network {f.network}",
            path=str(f.path),
        )
