"""``unparsable-file``: a file (or directory entry) aardvark itself would reject.

On aardvark <= 1.11 one bad file stops the resolver for *every* network at the next
reload; >= 1.12 logs it and skips that network. Fix: ``aardcheck fix --strategy
recreate`` for the network, or remove the stray entry from the directory.
"""

from __future__ import annotations

from collections.abc import Iterator

from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind, Severity

KINDS = (Kind.UNPARSABLE_FILE,)


def check(facts: Facts) -> Iterator[Finding]:
    version = facts.snapshot.aardvark_version
    severity = Severity.ERROR if version.skips_bad_files else Severity.CRITICAL
    consequence = (
        f"aardvark {version} skips this network"
        if version.skips_bad_files
        else f"aardvark {version} stops answering for every network at its next reload"
    )
    for f in facts.selected_files():
        if f.defect is None:
            continue
        where = f" line {f.defect.line_no}" if f.defect.line_no is not None else ""
        yield Finding(
            kind=Kind.UNPARSABLE_FILE,
            network=f.network,
            severity=severity,
            message=f"{f.path}{where}: {f.defect.reason}; {consequence}",
            fix=f"aardcheck fix --network {f.network} --strategy recreate",
            path=str(f.path),
            line_no=f.defect.line_no,
        )
    for u in facts.snapshot.directory.unreadable:
        if not u.breaks_aardvark:
            continue
        yield Finding(
            kind=Kind.UNPARSABLE_FILE,
            network=u.path.name,
            severity=severity,
            message=f"{u.path}: {u.reason}; {consequence}",
            fix=f"move {u.path} out of {u.path.parent}",
            path=str(u.path),
        )
