"""``duplicate-entry``: one container on several lines, or identical lines.

aardvark appends every line's addresses and never de-duplicates, so a duplicated line
returns its address twice (and keeps returning it after one copy is removed by a
teardown). netavark 1.0/1.1 wrote one line per address and subnet; lines of one container
that look exactly like that are not duplicates. Fix: ``aardcheck fix`` (a running
container's line is rewritten by ``podman network reload``, a dead one's is pruned).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from aardcheck.checks.facts import Facts, entry_label
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.format.grammar import is_per_address_group
from aardcheck.models import Entry, IPNetwork

KINDS = (Kind.DUPLICATE_ENTRY,)


def _subnets(facts: Facts, network: str) -> tuple[IPNetwork, ...]:
    net = facts.networks.get(network)
    return tuple(s.subnet for s in net.subnets) if net else ()


def check(facts: Facts) -> Iterator[Finding]:
    for f in facts.selected_files():
        by_id: dict[str, list[Entry]] = defaultdict(list)
        for e in f.entries:
            by_id[e.container_id].append(e)
        for cid, entries in by_id.items():
            if len(entries) < 2 or is_per_address_group(entries, _subnets(facts, f.network)):
                continue
            first = entries[0]
            for dup in entries[1:]:
                shared = sorted(str(a) for a in set(dup.addresses) & set(first.addresses))
                yield Finding(
                    kind=Kind.DUPLICATE_ENTRY,
                    network=f.network,
                    name=entry_label(dup),
                    container_id=cid,
                    address=shared[0] if shared else "",
                    severity=Severity.WARNING,
                    message=(
                        f"line {dup.line_no} repeats container {dup.short_id} from line "
                        f"{first.line_no}: its names get every address twice"
                    ),
                    fix=f"aardcheck fix --network {f.network}",
                    path=str(f.path),
                    line_no=dup.line_no,
                )
