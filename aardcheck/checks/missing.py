"""``missing-entry``: a running container on a DNS-enabled network has no (complete) line.

Its names do not resolve, or miss an address or an alias. Fix: ``podman network reload
CONTAINER`` rewrites that container's line.
"""

from __future__ import annotations

from collections.abc import Iterator

from aardcheck.checks.facts import Facts, container_label
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.format.grammar import network_name
from aardcheck.models import Container, Entry, Network

KINDS = (Kind.MISSING_ENTRY,)


def _finding(net: Network, c: Container, *, name: str, address: str, message: str) -> Finding:
    return Finding(
        kind=Kind.MISSING_ENTRY,
        network=net.name,
        name=name,
        container_id=c.id,
        address=address,
        severity=Severity.ERROR,
        message=message,
        fix=f"podman network reload {c.name or c.id}",
    )


def check(facts: Facts) -> Iterator[Finding]:
    unread = {network_name(u.path.name)[0] for u in facts.snapshot.directory.unreadable}
    for net in facts.dns_networks():
        files = facts.files.get(net.name, [])
        if any(not f.parsable for f in files) or net.name in unread:
            continue  # unparsable-file / unchecked already say the lines cannot be judged
        lines_of: dict[str, list[Entry]] = {}
        for e in (e for f in files for e in f.entries):
            lines_of.setdefault(e.container_id, []).append(e)
        for c, att in facts.members.get(net.name, ()):
            lines = lines_of.get(c.id, [])
            if not lines:
                yield _finding(
                    net,
                    c,
                    name=c.name.lower(),
                    address="",
                    message=f"running container {container_label(c)} has no line: "
                    f"its names ({', '.join(c.dns_names(net.name))}) do not resolve",
                )
                continue
            served = {a for e in lines for a in e.addresses}
            for addr in att.addresses:
                if addr not in served:
                    yield _finding(
                        net,
                        c,
                        name=c.name.lower(),
                        address=str(addr),
                        message=f"running container {container_label(c)} is at {addr}, "
                        "but its line does not serve that address",
                    )
            names = {n for e in lines for n in e.names}
            for name in c.dns_names(net.name):
                if name not in names:
                    yield _finding(
                        net,
                        c,
                        name=name,
                        address="",
                        message=f"running container {container_label(c)} has name or alias "
                        f"'{name}', but its line does not serve it",
                    )
