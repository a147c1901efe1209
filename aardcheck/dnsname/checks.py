"""Findings for dnsname networks: the aardvark kinds where they apply. Pure.

- ``dead-entry``: the line's container name is unknown to podman (or belongs to a newer
  container: the line's short-id alias names another one) and nothing answers at its
  address on the bridge. dnsname deletes lines by container name, so a dead line stays
  until a container of the same name is torn down. Fix: prune the line.
- ``unknown-entry`` (warning): as dead, but the address answers or could not be checked
  (another podman store may share the network). Never pruned automatically.
- ``stopped-entry``: the container exists and is not running. Fix: prune.
- ``wrong-address``: the container runs, not at that address on that network. Fix:
  prune, then ``podman network reload CONTAINER``.
- ``duplicate-entry`` (warning): the same address and name on several lines; dnsmasq
  answers the address once per line.
- ``missing-entry``: a running member has no line for an address: its name does not
  resolve. Fix: ``podman network reload CONTAINER``.
- ``orphan-file``: a ``dnsname/NET/`` directory of a network podman does not know; its
  dnsmasq keeps running, and a network re-created under that name serves the old lines.
  Fix: stop that dnsmasq and delete the directory.
- ``unparsable-file`` (warning): a line dnsmasq skips (bad address), a line without a
  name, a file that is not UTF-8, or a directory whose ``addnhosts`` cannot be read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

from aardcheck.dnsname.model import DnsnameNetwork, DnsnameRoot, HostsLine
from aardcheck.findings import Finding, Kind, Severity
from aardcheck.models import AddressLiveness, Container, IPAddress, Liveness, Network, PodmanState


def _fix(network: str) -> str:
    return f"aardcheck fix --network {network}"


def _line_finding(
    kind: Kind,
    net: DnsnameNetwork,
    line: HostsLine,
    severity: Severity,
    message: str,
    *,
    container_id: str = "",
    fix: str = "",
) -> Finding:
    return Finding(
        kind=kind,
        network=net.network,
        name=line.name,
        container_id=container_id,
        address=str(line.address) if line.address is not None else "",
        severity=severity,
        message=message,
        fix=fix,
        path=str(net.hosts_path),
        line_no=line.line_no,
    )


def owner_of(line: HostsLine, by_name: Mapping[str, Container]) -> Container | None:
    """The container a line belongs to: by name, unless the short-id alias says it is an
    earlier container of that name (podman 4.x writes the short id as the last alias).
    Without a container of that name, the short id alone names it (a renamed container,
    or a pod's infra container if the plugin got the pod's name)."""
    owner = by_name.get(line.name)
    if owner is not None and (not line.short_id or owner.id.lower().startswith(line.short_id)):
        return owner
    if owner is None and line.short_id:
        return next((c for c in by_name.values() if c.id.lower().startswith(line.short_id)), None)
    return None


def _stale(
    net: DnsnameNetwork,
    line: HostsLine,
    by_name: Mapping[str, Container],
    alive: Mapping[tuple[str, IPAddress], Liveness],
) -> Iterator[Finding]:
    owner = owner_of(line, by_name)
    if line.address is None:
        return
    if owner is None:
        state = alive.get((net.network, line.address), Liveness.UNKNOWN)
        if state is Liveness.SILENT:
            yield _line_finding(
                Kind.DEAD_ENTRY,
                net,
                line,
                Severity.ERROR,
                f"no container '{line.name}' exists and nothing answers at {line.address}",
                container_id=line.short_id,
                fix=_fix(net.network),
            )
        else:
            yield _line_finding(
                Kind.UNKNOWN_ENTRY,
                net,
                line,
                Severity.WARNING,
                f"no container '{line.name}' in this podman, but {line.address} is "
                f"{state}: another store may own it",
                container_id=line.short_id,
            )
        return
    if not owner.running:
        yield _line_finding(
            Kind.STOPPED_ENTRY,
            net,
            line,
            Severity.ERROR,
            f"container '{owner.name}' is {owner.state}",
            container_id=owner.id,
            fix=_fix(net.network),
        )
        return
    att = owner.attachment(net.network)
    if att is None or line.address not in att.addresses:
        where = ", ".join(str(a) for a in att.addresses) if att else "not on this network"
        yield _line_finding(
            Kind.WRONG_ADDRESS,
            net,
            line,
            Severity.ERROR,
            f"container '{owner.name}' runs at {where}, not {line.address}",
            container_id=owner.id,
            fix=_fix(net.network),
        )


def _duplicates(net: DnsnameNetwork) -> Iterator[Finding]:
    seen = Counter((line.address, line.name) for line in net.lines if line.defect is None)
    reported: set[tuple[IPAddress | None, str]] = set()
    for line in net.lines:
        key = (line.address, line.name)
        if line.defect is None and seen[key] > 1 and key not in reported:
            reported.add(key)
            yield _line_finding(
                Kind.DUPLICATE_ENTRY,
                net,
                line,
                Severity.WARNING,
                f"'{line.name}' at {line.address} is on {seen[key]} lines",
                container_id=line.short_id,
                fix=_fix(net.network),
            )


def _missing(
    net: Network, dir_: DnsnameNetwork | None, members: Iterable[Container]
) -> Iterator[Finding]:
    lines = [ln for ln in (dir_.lines if dir_ else ()) if ln.defect is None]
    served = {(ln.name, ln.address) for ln in lines} | {(ln.short_id, ln.address) for ln in lines}
    for c in members:
        att = c.attachment(net.name)
        if att is None:
            continue
        for address in att.addresses:
            if (c.name, address) not in served and (c.short_id, address) not in served:
                yield Finding(
                    kind=Kind.MISSING_ENTRY,
                    network=net.name,
                    name=c.name,
                    container_id=c.id,
                    address=str(address),
                    severity=Severity.ERROR,
                    message=f"running container '{c.name}' has no line for {address}",
                    fix=f"podman network reload {c.id}",
                    path=str(dir_.hosts_path) if dir_ else "",
                )


def _file_health(net: DnsnameNetwork) -> Iterator[Finding]:
    if net.unreadable:
        yield Finding(
            kind=Kind.UNPARSABLE_FILE,
            network=net.network,
            severity=Severity.ERROR,
            message=f"{net.hosts_path}: {net.unreadable}",
            path=str(net.hosts_path),
        )
    for line in net.lines:
        if line.defect is not None:
            yield _line_finding(Kind.UNPARSABLE_FILE, net, line, Severity.WARNING, line.defect)


def check_dnsname(
    root: DnsnameRoot,
    podman: PodmanState,
    *,
    selected: frozenset[str] = frozenset(),
    liveness: Iterable[AddressLiveness] = (),
) -> tuple[Finding, ...]:
    """Every finding of the dnsname networks in ``root`` and podman's dnsname networks."""

    def wants(network: str) -> bool:
        return not selected or network in selected

    networks = {n.name: n for n in podman.networks}
    by_name = {c.name: c for c in podman.containers if c.owns_network}
    alive = {(a.network, a.address): a.liveness for a in liveness}
    found: set[Finding] = set()
    for dir_ in root.networks:
        if not wants(dir_.network):
            continue
        if dir_.network not in networks:
            found.add(
                Finding(
                    kind=Kind.ORPHAN_FILE,
                    network=dir_.network,
                    severity=Severity.WARNING,
                    message=f"dnsname directory of a removed network ({len(dir_.lines)} line(s))"
                    + (f"; its dnsmasq (pid {dir_.pid}) may still run" if dir_.pid else ""),
                    fix=_fix(dir_.network),
                    path=str(dir_.path),
                )
            )
            continue
        found.update(_file_health(dir_))
        found.update(_duplicates(dir_))
        for line in dir_.lines:
            if line.defect is None:
                found.update(_stale(dir_, line, by_name, alive))
    for net in networks.values():
        if not net.dns_enabled or not wants(net.name):
            continue
        served = root.network(net.name)
        if served is not None and served.unreadable:
            continue  # reported as unparsable; every line would look missing
        members = [c for c in by_name.values() if c.running and c.attachment(net.name)]
        found.update(_missing(net, served, members))
    return tuple(found)


def liveness_wanted(
    root: DnsnameRoot, podman: PodmanState, selected: frozenset[str] = frozenset()
) -> dict[str, tuple[IPAddress, ...]]:
    """Addresses of lines no container owns, by network (only networks podman knows and
    whose bridge is named: the second source asks on that bridge)."""
    networks = {n.name: n for n in podman.networks}
    by_name = {c.name: c for c in podman.containers if c.owns_network}
    wanted: dict[str, set[IPAddress]] = {}
    for dir_ in root.networks:
        net = networks.get(dir_.network)
        if net is None or not net.interface or (selected and dir_.network not in selected):
            continue
        for line in dir_.lines:
            if line.defect is None and line.address is not None and owner_of(line, by_name) is None:
                wanted.setdefault(dir_.network, set()).add(line.address)
    return {n: tuple(sorted(a, key=str)) for n, a in sorted(wanted.items())}
