"""``duplicate-entry``: one container on several lines, or identical lines.

aardvark appends every line's addresses and never de-duplicates, so a duplicated line
returns its address twice (and keeps returning it after one copy is removed by a
teardown). netavark 1.0/1.1 wrote one line per address; lines of one container whose
addresses do not overlap are that format, not duplicates. Fix: prune the extra lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from aardcheck.checks.facts import Facts, entry_label
from aardcheck.models import Entry, Finding, Kind, Severity

KINDS = (Kind.DUPLICATE_ENTRY,)


def _duplicates(entries: list[Entry]) -> list[Entry]:
    """The lines after the first that repeat an earlier line of the same container."""
    extra: list[Entry] = []
    kept: list[Entry] = []
    for e in entries:
        if any(e.raw == k.raw or set(e.addresses) & set(k.addresses) for k in kept):
            extra.append(e)
        else:
            kept.append(e)
    return extra


def check(facts: Facts) -> Iterator[Finding]:
    for f in facts.selected_files():
        by_id: dict[str, list[Entry]] = defaultdict(list)
        for e in f.entries:
            by_id[e.container_id].append(e)
        for cid, entries in by_id.items():
            if len(entries) < 2:
                continue
            first = entries[0]
            for dup in _duplicates(entries):
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
