"""What the resolver really answers, asked from inside each network.

- ``dns-mismatch``: a name answers an address podman does not place there (a stale
  address: clients connect to it and wait), misses a live address, is NXDOMAIN while a
  running container carries it, or answers differently between tries. The message gives
  the TTL seen: aardvark <= 1.5 answers with 86400, so clients may keep a stale address
  for a day after any fix. Fix: ``aardcheck fix``, then restart the consumers.
- ``resolver-down`` (critical): the network's aardvark-dns did not answer at all. Fix:
  check ``aardvark.pid`` and that ``aardvark-dns`` runs; ``podman network reload --all``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from aardcheck.checks.facts import Facts, container_label
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.models import IPAddress, ProbeAnswer, ProbeStatus

KINDS = (Kind.DNS_MISMATCH, Kind.RESOLVER_DOWN)

_RESOLVED = (ProbeStatus.ANSWER, ProbeStatus.NXDOMAIN, ProbeStatus.NOANSWER)


def _family(rdtype: str) -> int:
    return 6 if rdtype == "AAAA" else 4


def _mismatch(a: ProbeAnswer, address: str, severity: Severity, message: str) -> Finding:
    return Finding(
        kind=Kind.DNS_MISMATCH,
        network=a.network,
        name=a.name,
        address=address,
        severity=severity,
        message=f"{a.name} {a.rdtype} @{a.server}: {message}",
        fix=f"aardcheck fix --network {a.network}",
    )


def _ttl_note(a: ProbeAnswer) -> str:
    ttls = [t.ttl for t in a.tries if t.ttl is not None]
    if not ttls:
        return ""
    ttl = max(ttls)
    note = f" (TTL {ttl} s"
    if ttl >= 3600:
        note += ": clients may keep it for hours after a fix"
    return note + ")"


def _answer_findings(facts: Facts, a: ProbeAnswer, expected: set[IPAddress]) -> Iterator[Finding]:
    resolved = [t for t in a.tries if t.status in _RESOLVED]
    failed = [t for t in a.tries if t.status not in _RESOLVED]
    if failed:
        statuses = ", ".join(sorted({str(t.status) for t in failed}))
        yield _mismatch(
            a,
            "",
            Severity.ERROR,
            f"no usable answer in {len(failed)} of {len(a.tries)} tries ({statuses})",
        )
    if not resolved:
        return
    sets = {t.addresses for t in resolved}
    if len(sets) > 1:
        shown = " / ".join(sorted(",".join(sorted(map(str, s))) or "none" for s in sets))
        yield _mismatch(a, "", Severity.ERROR, f"answers differ between tries: {shown}")
    answered: set[IPAddress] = set().union(*sets)
    for addr in sorted(answered - expected, key=str):
        holders = facts.live_at.get((a.network, addr), [])
        owner = f" which belongs to {container_label(holders[0])}" if holders else " (stale)"
        yield _mismatch(
            a,
            str(addr),
            Severity.ERROR,
            f"answers {addr}{owner}; podman has no container with this name there" + _ttl_note(a),
        )
    for addr in sorted(expected - answered, key=str):
        if any(t.status is ProbeStatus.NXDOMAIN for t in resolved) and not answered:
            what = "NXDOMAIN"
        else:
            what = "no record"
        yield _mismatch(
            a,
            str(addr),
            Severity.ERROR,
            f"{what} for live address {addr}: clients cannot reach this container by name",
        )


def check(facts: Facts) -> Iterator[Finding]:
    by_network: dict[str, list[ProbeAnswer]] = defaultdict(list)
    for a in facts.snapshot.probes:
        if facts.snapshot.wants(a.network):
            by_network[a.network].append(a)
    for network, answers in sorted(by_network.items()):
        if answers and all(t.status is ProbeStatus.TIMEOUT for a in answers for t in a.tries):
            yield Finding(
                kind=Kind.RESOLVER_DOWN,
                network=network,
                address=str(answers[0].server),
                severity=Severity.CRITICAL,
                message=f"aardvark-dns at {answers[0].server} answered none of "
                f"{sum(len(a.tries) for a in answers)} queries: no name resolves on this network",
                fix="check that aardvark-dns runs (aardvark.pid); "
                "`podman network reload --all` restarts it",
            )
            continue
        live = facts.live_names(network)
        for a in answers:
            expected = {x for x in live.get(a.name, set()) if x.version == _family(a.rdtype)}
            yield from _answer_findings(facts, a, expected)
