"""Lines that point at a container that is gone, stopped, or elsewhere.

- ``dead-entry``: the line's container no longer exists and nothing answers at its
  address on the network (neighbour discovery, the second source). Clients that get this
  address wait for ``No route to host``. Fix: prune the line.
- ``unknown-entry`` (warning): the container is unknown to this podman, but the address is
  in use or could not be checked - it may belong to another podman store sharing the
  network. Never pruned automatically.
- ``stopped-entry``: the container exists but is not running. Fix: prune the line (podman
  writes it again when the container starts).
- ``wrong-address``: the container runs, but not at that address on that network (or not
  on that network at all). Fix: prune the line, then ``podman network reload CONTAINER``.
- ``address-conflict`` (critical): a stale line's address now belongs to another live
  container: requests for the stale names reach the wrong service. Fix: prune the line.
"""

from __future__ import annotations

from collections.abc import Iterator

from aardcheck.checks.facts import Facts, container_label, entry_label, liveness_of
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.models import Entry, IPAddress, Liveness, NetworkFile

KINDS = (
    Kind.DEAD_ENTRY,
    Kind.UNKNOWN_ENTRY,
    Kind.STOPPED_ENTRY,
    Kind.WRONG_ADDRESS,
    Kind.ADDRESS_CONFLICT,
)


def _fix(network: str) -> str:
    return f"aardcheck fix --network {network}"


def _shadowed(facts: Facts, f: NetworkFile, entry: Entry) -> str:
    """Which of the line's names also answer live addresses: what the user actually sees."""
    live = facts.live_names(f.network)
    parts = []
    for name in entry.names:
        addrs = live.get(name)
        if addrs:
            shown = ", ".join(sorted(str(a) for a in addrs))
            parts.append(f"'{name}' also answers live {shown}")
    return "; ".join(parts)


def _finding(
    kind: Kind,
    f: NetworkFile,
    entry: Entry,
    address: IPAddress | None,
    severity: Severity,
    message: str,
    fix: str,
) -> Finding:
    return Finding(
        kind=kind,
        network=f.network,
        name=entry_label(entry),
        container_id=entry.container_id,
        address=str(address) if address is not None else "",
        severity=severity,
        message=message,
        fix=fix,
        path=str(f.path),
        line_no=entry.line_no,
    )


def _conflict(facts: Facts, f: NetworkFile, entry: Entry, address: IPAddress) -> Finding | None:
    holders = [c for c in facts.live_at.get((f.network, address), []) if c.id != entry.container_id]
    if not holders:
        return None
    who = ", ".join(container_label(c) for c in holders)
    names = ",".join(entry.names) or entry.short_id
    return _finding(
        Kind.ADDRESS_CONFLICT,
        f,
        entry,
        address,
        Severity.CRITICAL,
        f"stale line for {names} points at {address}, which now belongs to {who}: "
        "requests for these names reach the wrong service",
        _fix(f.network),
    )


def _dead_or_unknown(
    facts: Facts, f: NetworkFile, entry: Entry, address: IPAddress | None
) -> Finding:
    names = ",".join(entry.names) or entry.short_id
    shadow = _shadowed(facts, f, entry)
    tail = f"; {shadow}" if shadow else ""
    if address is None:
        return _finding(
            Kind.DEAD_ENTRY,
            f,
            entry,
            None,
            Severity.ERROR,
            f"container {entry.short_id} ({names}) no longer exists; its line has no address",
            _fix(f.network),
        )
    seen = liveness_of(facts, f.network, address)
    if seen is Liveness.SILENT:
        return _finding(
            Kind.DEAD_ENTRY,
            f,
            entry,
            address,
            Severity.ERROR,
            f"container {entry.short_id} ({names}) no longer exists and nothing answers at "
            f"{address} (dead){tail}",
            _fix(f.network),
        )
    why = (
        f"something still answers at {address} (another podman store on this network?)"
        if seen is Liveness.ALIVE
        else f"could not confirm that {address} is unused"
    )
    detail = facts.liveness.get((f.network, address))
    extra = f" ({detail.detail})" if detail and detail.detail and seen is Liveness.UNKNOWN else ""
    return _finding(
        Kind.UNKNOWN_ENTRY,
        f,
        entry,
        address,
        Severity.WARNING,
        f"container {entry.short_id} ({names}) is unknown to this podman, but {why}{extra}"
        f"{tail}; left alone",
        f"find who holds {address} (another podman store, a leftover namespace); aardcheck "
        "never removes a line it cannot prove dead",
    )


def _entry_findings(facts: Facts, f: NetworkFile, entry: Entry) -> Iterator[Finding]:
    owner = facts.owner(entry)
    addresses: tuple[IPAddress | None, ...] = entry.addresses or (None,)
    if owner is None:
        for address in addresses:
            conflict = _conflict(facts, f, entry, address) if address is not None else None
            yield conflict or _dead_or_unknown(facts, f, entry, address)
        return
    names = ",".join(entry.names) or entry.short_id
    if not owner.running:
        state = owner.state or "not running"
        fix = _fix(f.network)
        if owner.process_gone:
            state = f"listed as {owner.state} by podman, but its process {owner.pid} is gone,"
            fix += f" (then `podman rm -f {owner.name}`: podman still holds it)"
        for address in addresses:
            conflict = _conflict(facts, f, entry, address) if address is not None else None
            yield conflict or _finding(
                Kind.STOPPED_ENTRY,
                f,
                entry,
                address,
                Severity.ERROR,
                f"container {container_label(owner)} is {state} but its "
                f"line ({names}) still answers {address}",
                fix,
            )
        return
    att = owner.attachment(f.network)
    actual = set(att.addresses) if att else set()
    for address in addresses:
        if address is None or address in actual:
            continue
        conflict = _conflict(facts, f, entry, address)
        where = (
            f"runs at {', '.join(sorted(str(a) for a in actual))}"
            if att
            else "is not attached to this network"
        )
        yield conflict or _finding(
            Kind.WRONG_ADDRESS,
            f,
            entry,
            address,
            Severity.ERROR,
            f"container {container_label(owner)} {where}, but its line answers {address}",
            f"{_fix(f.network)} (then `podman network reload {owner.name}` if its line is missing)",
        )


def check(facts: Facts) -> Iterator[Finding]:
    for f in facts.selected_files():
        if f.network not in facts.networks:
            continue  # orphan files are reported as a whole by the orphan check
        for entry in f.entries:
            yield from _entry_findings(facts, f, entry)
