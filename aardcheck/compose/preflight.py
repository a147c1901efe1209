"""``aardcheck preflight``: is ``podman-compose up`` safe for this project right now?

``up`` re-creates a project's networks by name and reuses existing ones as they are,
so it is unsafe when

- an aardvark file is left for a network of that name that does not exist now: the
  new network takes over its stale lines (an ``orphan-file`` finding);
- a network it reuses holds stale lines (any finding of the usual checks);
- the new network will likely get the subnet of a leftover file of another, deleted
  network: aardvark-dns 1.4 answers from every file holding the asker's gateway
  (hazard ``subnet-reuse``);
- a subnet pinned in the compose file is already used by a live network or a host
  route (hazard ``subnet-in-use``: podman refuses to create the network);
- an external network does not exist (hazard ``external-missing``).

``select`` is pure (project + podman's state + the aardvark directory -> what to check
and the hazards); ``run_preflight`` gathers, optionally repairs first (prune; re-create
untrustworthy files only with ``Strategy.RECREATE``), and checks again.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aardcheck.compose.project import ComposeNetwork, ComposeProject
from aardcheck.errors import ExitCode
from aardcheck.findings import CheckContext, CheckResult, Finding, Kind
from aardcheck.models import (
    LATEST_AARDVARK,
    DnsDirectory,
    IPAddress,
    IPNetwork,
    NetworkFile,
    PodmanState,
)
from aardcheck.repair.outcome import Change, FixResult
from aardcheck.repair.plan import RecreateNetwork, Strategy
from aardcheck.runner.options import CheckOptions

if TYPE_CHECKING:
    from aardcheck.sources.podman_api import PodmanSession

#: podman's default ``default_subnet_pools`` (containers.conf): new networks get the
#: first /24 in this order that no network and no host route overlaps.
SUBNET_POOLS = tuple(
    ipaddress.IPv4Network(p)
    for p in ("10.89.0.0/16", "10.90.0.0/15", "10.92.0.0/14", "10.96.0.0/11", "10.128.0.0/9")
)
#: Kinds that say "could not look", not "stale": shown, but they do not block ``up``.
NON_BLOCKING = frozenset({Kind.UNCHECKED})


@dataclass(frozen=True, slots=True)
class Hazard:
    """A reason ``up`` is unsafe that is not a finding about an existing file."""

    kind: str  # "external-missing", "subnet-in-use", "subnet-reuse"
    network: str
    message: str
    fix: str
    path: str = ""


@dataclass(frozen=True, slots=True)
class NetworkStatus:
    network: ComposeNetwork
    #: "create" (up creates it), "reuse" (exists), "external", "missing-external"
    plan: str
    leftover_file: str = ""
    #: the subnet podman will most likely give a network up creates ("" if unknown)
    likely_subnet: str = ""


@dataclass(frozen=True, slots=True)
class Selection:
    statuses: tuple[NetworkStatus, ...]
    #: networks to run the checks on (they exist, or a file of that name does)
    check: frozenset[str]
    hazards: tuple[Hazard, ...]


def _file_addresses(f: NetworkFile) -> list[IPAddress]:
    found: list[IPAddress] = list(f.header.gateways) if f.header else []
    return found + [a for e in f.entries for a in e.addresses]


def _overlaps(net: IPNetwork, others: Sequence[IPNetwork]) -> list[IPNetwork]:
    return [o for o in others if o.version == net.version and net.overlaps(o)]


def _free_subnets(used: Sequence[IPNetwork], count: int) -> Iterator[ipaddress.IPv4Network]:
    """The first ``count`` /24s of the pools that nothing in ``used`` overlaps."""
    if count <= 0:
        return
    for pool in SUBNET_POOLS:
        for candidate in pool.subnets(new_prefix=24):
            if not _overlaps(candidate, used):
                yield candidate
                count -= 1
                if count == 0:
                    return


def _pinned(net: ComposeNetwork) -> list[IPNetwork]:
    out: list[IPNetwork] = []
    for text in net.subnets:
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    return out


def _reuse_hazards(
    net: ComposeNetwork, subnets: Sequence[IPNetwork], orphans: Sequence[NetworkFile]
) -> Iterator[tuple[Hazard, NetworkFile]]:
    for f in orphans:
        if f.network == net.name:
            continue  # reported as that network's own leftover file
        hit = [s for s in subnets if any(a in s for a in _file_addresses(f))]
        if hit:
            shown = ", ".join(str(s) for s in hit)
            yield (
                Hazard(
                    "subnet-reuse",
                    net.name,
                    f"up creates {net.name}, most likely on {shown}: the leftover file of "
                    f"deleted network {f.network} covers that subnet, and aardvark-dns "
                    f"would answer its {len(f.entries)} stale line(s) to {net.name}",
                    f"aardcheck fix --network {f.network} (deletes the leftover file)",
                    str(f.path),
                ),
                f,
            )


def select(
    project: ComposeProject,
    state: PodmanState,
    directory: DnsDirectory,
    host_subnets: Sequence[IPNetwork] = (),
) -> Selection:
    """What ``up`` will do with each network, what to check, and the hazards. Pure."""
    live = {n.name: n for n in state.networks}
    files = {f.network: f for f in directory.files}
    orphans = [f for f in directory.files if f.network not in live]
    used: list[IPNetwork] = [s.subnet for n in state.networks for s in n.subnets]
    used += list(host_subnets)
    to_create = [n for n in project.networks if not n.external and n.name not in live]
    likely = iter(_free_subnets(used, sum(1 for n in to_create if not n.subnets)))
    statuses: list[NetworkStatus] = []
    hazards: list[Hazard] = []
    check: set[str] = set()
    for net in project.networks:
        if net.name in live:
            statuses.append(NetworkStatus(net, "external" if net.external else "reuse"))
            check.add(net.name)
            continue
        if net.external:
            statuses.append(NetworkStatus(net, "missing-external"))
            wanted = net.lookup_name or net.name
            hazards.append(
                Hazard(
                    "external-missing",
                    net.name,
                    f"external network {wanted} does not exist: up stops",
                    f"podman network create {wanted}",
                )
            )
            continue
        leftover = files.get(net.name)
        if leftover is not None:
            check.add(net.name)
        subnets = _pinned(net)
        guess = "" if subnets else str(next(likely, ""))
        for sub in subnets:
            taken = [
                n.name for n in state.networks if _overlaps(sub, [s.subnet for s in n.subnets])
            ]
            if taken or _overlaps(sub, host_subnets):
                who = ", ".join(taken) or "a host route"
                hazards.append(
                    Hazard(
                        "subnet-in-use",
                        net.name,
                        f"subnet {sub} pinned for {net.name} overlaps {who}: podman refuses "
                        "to create the network",
                        f"pick a free subnet for network '{net.key}' in the compose file",
                    )
                )
        pool = subnets or ([ipaddress.ip_network(guess)] if guess else [])
        for hazard, f in _reuse_hazards(net, pool, orphans):
            hazards.append(hazard)
            check.add(f.network)
        statuses.append(NetworkStatus(net, "create", str(leftover.path) if leftover else "", guess))
    return Selection(tuple(statuses), frozenset(check), tuple(hazards))


def host_route_subnets(path: Path = Path("/proc/net/route")) -> list[IPNetwork]:
    """IPv4 destinations of the host's routes (podman avoids them for new networks)."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    out: list[IPNetwork] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
            mask = socket.inet_ntoa(struct.pack("<I", int(fields[7], 16)))
            net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        except (ValueError, struct.error):
            continue
        if net.prefixlen > 0:
            out.append(net)
    return out


# --------------------------------------------------------------------------- running it


@dataclass(frozen=True, slots=True)
class PreflightOptions:
    check: CheckOptions = field(default_factory=lambda: CheckOptions(probe=False))
    fix: bool = False
    strategy: Strategy = Strategy.PRUNE


@dataclass(frozen=True, slots=True)
class PreflightResult:
    project: ComposeProject
    statuses: tuple[NetworkStatus, ...]
    #: findings that make ``up`` unsafe
    findings: tuple[Finding, ...]
    #: what could not be looked at (shown, not blocking)
    notes: tuple[Finding, ...]
    hazards: tuple[Hazard, ...]
    context: CheckContext
    repair: FixResult | None = None

    @property
    def safe(self) -> bool:
        return not self.findings and not self.hazards

    @property
    def exit_code(self) -> ExitCode:
        if self.repair is not None and any(c.status == "failed" for c in self.repair.changes):
            return ExitCode.REPAIR_INCOMPLETE
        return ExitCode.CLEAN if self.safe else ExitCode.FINDINGS


class _Observer:
    """Looks at the host for one project, possibly several times, in one API session."""

    def __init__(self, session: PodmanSession, project: ComposeProject, options: CheckOptions):
        from aardcheck.runner.check import resolve_run_dir
        from aardcheck.sources.aardvark_files import installed_aardvark_version

        self.session = session
        self.project = project
        info = session.host_info()
        self.run_dir = resolve_run_dir(options, info)
        self.version = options.aardvark_version or installed_aardvark_version() or LATEST_AARDVARK
        self.options = replace(options, aardvark_version=self.version)
        self.routes = host_route_subnets() if not info.rootless else []
        self.context = CheckContext(
            str(self.run_dir.path),
            str(self.run_dir.scope),
            info.podman_version,
            session.url,
            network_backend=info.network_backend or "netavark",
        )
        #: podman on CNI: leftovers are the dnsname plugin's directories (runner.cni_check)
        self.info = info

    def observe(self) -> tuple[Selection, CheckResult | None]:
        from aardcheck.runner.check import check_with
        from aardcheck.sources.aardvark_files import read_dns_directory

        if self.context.network_backend == "cni":
            from aardcheck.runner.cni_check import dnsname_directory

            directory = dnsname_directory(self.options, self.info)
        else:
            directory = read_dns_directory(self.run_dir, self.version)
        selection = select(self.project, self.session.state(), directory, self.routes)
        if not selection.check:
            return selection, None
        checked = replace(self.options, networks=selection.check)
        return selection, check_with(self.session, checked)

    def repair(self, before: CheckResult, strategy: Strategy) -> FixResult:
        """Prune (and with RECREATE re-create untrustworthy files); no verification here:
        the caller looks again."""
        from aardcheck.repair.apply import apply_plan
        from aardcheck.repair.plan import build_plan
        from aardcheck.runner.fix import host_access

        if self.context.network_backend == "cni":
            from aardcheck.repair.dnsname_plan import build_dnsname_plan
            from aardcheck.runner.cni_fix import apply_cni

            cni_plan = build_dnsname_plan(before)
            changes = apply_cni(self.session, cni_plan, before.findings)
            return FixResult(before, cni_plan, changes, None, applied=not cni_plan.empty)
        plan = build_plan(before.snapshot, before.findings, strategy=strategy)
        if plan.empty:
            return FixResult(before, plan)
        hook = None
        if strategy is Strategy.RECREATE:
            from aardcheck.repair.recreate import recreate_network

            def hook(action: RecreateNetwork) -> list[Change]:
                return recreate_network(self.session, action)

        access = host_access(self.session, self.run_dir, self.version)
        return FixResult(before, plan, apply_plan(plan, access, hook), None, applied=True)


def run_preflight(project: ComposeProject, options: PreflightOptions) -> PreflightResult:
    """Check (and with ``options.fix`` first repair) the project's networks."""
    from aardcheck.sources.podman_api import connect

    with connect(options.check.url) as session:
        observer = _Observer(session, project, options.check)
        selection, checked = observer.observe()
        repair: FixResult | None = None
        if options.fix and checked is not None and checked.findings:
            repair = observer.repair(checked, options.strategy)
            if repair.applied:
                selection, checked = observer.observe()
    findings = checked.findings if checked is not None else ()
    return PreflightResult(
        project=project,
        statuses=selection.statuses,
        findings=tuple(f for f in findings if f.kind not in NON_BLOCKING),
        notes=tuple(f for f in findings if f.kind in NON_BLOCKING),
        hazards=selection.hazards,
        context=checked.context if checked is not None else observer.context,
        repair=repair,
    )
