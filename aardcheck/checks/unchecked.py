"""``unchecked``: something aardcheck could not look at. Never silently "clean".

A network whose names could not be probed (no running member to ask from, namespace
gone, no permission) or a directory entry that could not be read. Fix: as the message
says (often: run as the user who owns the network, or as root).
"""

from __future__ import annotations

from collections.abc import Iterator

from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind, Severity

KINDS = (Kind.UNCHECKED,)
#: the ``name`` of the finding for a network that could not be probed
PROBE = "probe"


def check(facts: Facts) -> Iterator[Finding]:
    for skipped in facts.snapshot.probe_skipped:
        if not facts.snapshot.wants(skipped.network):
            continue
        yield Finding(
            kind=Kind.UNCHECKED,
            network=skipped.network,
            name=PROBE,
            severity=Severity.WARNING,
            message=f"names were not asked from inside the network: {skipped.reason}",
            fix="run as the network's owner (or root); `--no-probe` skips probing on purpose",
        )
    for u in facts.snapshot.directory.unreadable:
        if u.breaks_aardvark:
            continue  # reported as unparsable-file
        yield Finding(
            kind=Kind.UNCHECKED,
            network=u.path.name,
            name="file",
            severity=Severity.WARNING,
            message=f"{u.path}: {u.reason}",
            fix="check the file's permissions and content",
            path=str(u.path),
        )
