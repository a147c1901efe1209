"""``header-mismatch``: the file's listen addresses are not the network's gateways.

aardvark listens on the header's addresses; a stale header (a network re-created with
another subnet while the old file survived) leaves the resolver deaf or listening on
an address that belongs to nothing. Fix: ``aardcheck fix --strategy recreate``.
"""

from __future__ import annotations

from collections.abc import Iterator

from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind, Severity

KINDS = (Kind.HEADER_MISMATCH,)


def check(facts: Facts) -> Iterator[Finding]:
    for f in facts.selected_files():
        net = facts.networks.get(f.network)
        if net is None or f.header is None or not f.parsable:
            continue
        want, have = set(net.gateways), set(f.header.gateways)
        if want == have or not want:
            continue
        show = ", ".join(sorted(str(a) for a in have)) or "nothing"
        expect = ", ".join(sorted(str(a) for a in want))
        yield Finding(
            kind=Kind.HEADER_MISMATCH,
            network=f.network,
            address=",".join(sorted(str(a) for a in have)),
            severity=Severity.ERROR,
            message=f"file listens on {show}, but the network's gateways are {expect}",
            fix=f"aardcheck fix --network {f.network} --strategy recreate",
            path=str(f.path),
            line_no=f.header.line_no,
        )
