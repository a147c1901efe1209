"""From findings to a repair plan. Pure: the same plan is shown, dry-run, and applied.

Which finding gets which action, and why:

- dead, stopped, and address-conflict lines of a container that does not run: prune every
  line whose first field is that id (podman writes a fresh line when it starts again).
- wrong-address, missing, and duplicate lines of a *running* container: ``podman network
  reload CONTAINER``. netavark's teardown drops every line holding the id and its setup
  writes one correct line: removing a live container's line ourselves is never right.
- duplicate lines of a container that does not run: prune.
- orphan files: delete the file (its network is gone; podman never will).
- header-mismatch and unparsable files cannot be pruned line by line: recreate the network
  (``--strategy recreate``), otherwise they are listed as skipped.
- unknown-entry, dns-mismatch and resolver-down are never acted on directly: the first
  cannot be proven dead, the others follow from the lines and are verified afterwards.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass

from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind
from aardcheck.models import Snapshot


class Strategy(enum.StrEnum):
    PRUNE = "prune"
    RECREATE = "recreate"


@dataclass(frozen=True, slots=True)
class PruneLines:
    network: str
    path: str
    container_id: str
    names: tuple[str, ...]
    line_nos: tuple[int, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class DeleteFile:
    network: str
    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReloadContainer:
    network: str
    container_id: str
    container_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class RecreateNetwork:
    network: str
    containers: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class RestartConsumer:
    network: str
    container_id: str
    container_name: str
    reason: str


Action = PruneLines | DeleteFile | ReloadContainer | RecreateNetwork | RestartConsumer


@dataclass(frozen=True, slots=True)
class Skipped:
    finding: Finding
    reason: str


@dataclass(frozen=True, slots=True)
class RepairPlan:
    actions: tuple[Action, ...]
    skipped: tuple[Skipped, ...]
    #: Running containers that may have cached a stale answer (long TTL), per network.
    consumers: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.actions

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(sorted({a.network for a in self.actions}))


PRUNE_WHEN_NOT_RUNNING = frozenset(
    {
        Kind.DEAD_ENTRY,
        Kind.STOPPED_ENTRY,
        Kind.ADDRESS_CONFLICT,
        Kind.DUPLICATE_ENTRY,
        Kind.WRONG_ADDRESS,
    }
)
RELOAD_WHEN_RUNNING = frozenset(
    {Kind.WRONG_ADDRESS, Kind.DUPLICATE_ENTRY, Kind.MISSING_ENTRY, Kind.ADDRESS_CONFLICT}
)
NEEDS_RECREATE = frozenset({Kind.HEADER_MISMATCH, Kind.UNPARSABLE_FILE})
NOT_ACTIONABLE = {
    Kind.UNKNOWN_ENTRY: "cannot be proven dead (its address answers, or could not be "
    "checked); aardcheck never removes such a line",
    Kind.DNS_MISMATCH: "follows from the file's lines; verified again after the repair",
    Kind.RESOLVER_DOWN: "aardvark-dns itself is not answering; aardcheck does not start it",
    Kind.UNCHECKED: "could not be checked, so nothing is changed",
}


class _Builder:
    def __init__(self, facts: Facts, strategy: Strategy, recreate: frozenset[str]) -> None:
        self.facts = facts
        self.strategy = strategy
        self.recreate = recreate
        self.prune: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        self.delete: dict[str, Finding] = {}
        self.reload: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        self.recreate_nets: dict[str, list[Finding]] = defaultdict(list)
        self.skipped: list[Skipped] = []

    def add(self, f: Finding) -> None:
        if f.network in self.recreate and f.network in self.facts.networks:
            self.recreate_nets[f.network].append(f)
            return
        owner = self.facts.containers.get(f.container_id) if f.container_id else None
        running = owner is not None and owner.running
        if f.kind is Kind.ORPHAN_FILE:
            self.delete[f.path] = f
        elif f.kind in NEEDS_RECREATE:
            if self.strategy is Strategy.RECREATE and f.network in self.facts.networks:
                self.recreate_nets[f.network].append(f)
            else:
                self.skipped.append(Skipped(f, "needs `--strategy recreate`"))
        elif running and f.kind in RELOAD_WHEN_RUNNING:
            self.reload[(f.network, f.container_id)].append(f)
        elif not running and f.kind in PRUNE_WHEN_NOT_RUNNING and f.path:
            self.prune[(f.path, f.container_id)].append(f)
        else:
            self.skipped.append(Skipped(f, NOT_ACTIONABLE.get(f.kind, "no safe repair")))

    def actions(self) -> list[Action]:
        out: list[Action] = []
        for net, fs in sorted(self.recreate_nets.items()):
            members = sorted(
                c.name for c in self.facts.containers.values() if c.attachment(net) is not None
            )
            kinds = ", ".join(sorted({str(f.kind) for f in fs}))
            out.append(RecreateNetwork(net, tuple(members), f"file cannot be trusted ({kinds})"))
        for path, f in sorted(self.delete.items()):
            out.append(DeleteFile(f.network, path, f"network '{f.network}' no longer exists"))
        for (path, cid), fs in sorted(self.prune.items()):
            if fs[0].network in self.recreate_nets:
                continue
            entries = [
                e
                for nf in self.facts.files.get(fs[0].network, [])
                if str(nf.path) == path
                for e in nf.entries
                if e.container_id == cid
            ]
            names = entries[0].names if entries else ()
            kinds = ", ".join(sorted({str(f.kind) for f in fs}))
            out.append(
                PruneLines(
                    network=fs[0].network,
                    path=path,
                    container_id=cid,
                    names=names,
                    line_nos=tuple(e.line_no for e in entries),
                    reason=kinds,
                )
            )
        for (net, cid), fs in sorted(self.reload.items()):
            if net in self.recreate_nets:
                continue
            c = self.facts.containers[cid]
            kinds = ", ".join(sorted({str(f.kind) for f in fs}))
            out.append(ReloadContainer(net, cid, c.name, f"rewrite its line ({kinds})"))
        return out


def consumers_at_risk(facts: Facts, findings: tuple[Finding, ...]) -> dict[str, tuple[str, ...]]:
    """Running containers on networks where a stale answer was served with a long TTL."""
    stale_nets = {
        a.network
        for a in facts.snapshot.probes
        for t in a.tries
        if t.ttl is not None and t.ttl >= 3600
    }
    stale_nets &= {f.network for f in findings if f.kind is Kind.DNS_MISMATCH and f.address}
    out: dict[str, tuple[str, ...]] = {}
    for net in sorted(stale_nets):
        names = sorted(
            c.name
            for c in facts.containers.values()
            if c.running and c.owns_network and c.attachment(net) is not None
        )
        if names:
            out[net] = tuple(names)
    return out


def build_plan(
    snapshot: Snapshot,
    findings: tuple[Finding, ...],
    *,
    strategy: Strategy = Strategy.PRUNE,
    recreate: frozenset[str] = frozenset(),
    restart_consumers: bool = False,
) -> RepairPlan:
    """``recreate`` names networks to re-create on request, whatever their findings."""
    facts = Facts.of(snapshot)
    builder = _Builder(facts, strategy, recreate)
    for f in findings:
        builder.add(f)
    for net in sorted(recreate - set(builder.recreate_nets)):
        if net in facts.networks:
            builder.recreate_nets[net] = []
    actions = builder.actions()
    consumers = consumers_at_risk(facts, findings)
    if restart_consumers:
        for net, names in consumers.items():
            for c in facts.containers.values():
                if c.name in names:
                    actions.append(
                        RestartConsumer(
                            net, c.id, c.name, "may have cached a stale address (long TTL)"
                        )
                    )
    return RepairPlan(
        actions=tuple(actions),
        skipped=tuple(builder.skipped),
        consumers=tuple(sorted(consumers.items())),
    )
