"""``watch --fix``: the prune strategy, for the findings it is safe for, rate-limited.

The plan is ``aardcheck fix``'s own (``build_plan`` with the prune strategy), filtered to
file edits: ``PruneLines`` and ``DeleteFile``. Reloading a live container's network,
re-creating a network and restarting consumers are never done unattended. A line is only
pruned when its container is gone or has finished (exited/stopped): a container that is
still being created or is paused keeps its line. Only settled findings are acted on, so
a container in the middle of starting or stopping is never touched.

Each network passes a ``RepairGate`` (exponential back-off), so a network that keeps
going stale is repaired ever more rarely rather than in a loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aardcheck.errors import AardcheckError
from aardcheck.findings import CheckResult, Finding
from aardcheck.repair.apply import apply_plan
from aardcheck.repair.outcome import Change
from aardcheck.repair.plan import DeleteFile, PruneLines, RepairPlan, Strategy, build_plan
from aardcheck.runner.fix import host_access
from aardcheck.sources.podman_api import PodmanSession
from aardcheck.watch.schedule import RepairGate

#: Container states in which podman has finished with the network (its line is stale).
FINISHED_STATES = frozenset({"exited", "stopped"})


def prune_plan(result: CheckResult, findings: Iterable[Finding]) -> RepairPlan:
    """The safe part of the prune plan for ``findings`` (a subset of ``result``'s)."""
    if result.context.network_backend == "cni":  # dnsname networks (aardcheck.dnsname)
        from dataclasses import replace

        from aardcheck.repair.dnsname_plan import build_dnsname_plan

        plan = build_dnsname_plan(replace(result, findings=tuple(findings)))
    else:
        plan = build_plan(result.snapshot, tuple(findings), strategy=Strategy.PRUNE)
    state = {c.id: c.state for c in result.snapshot.podman.containers}
    actions: list[PruneLines | DeleteFile] = []
    for action in plan.actions:
        if isinstance(action, DeleteFile):
            actions.append(action)
        elif isinstance(action, PruneLines):
            owner_state = state.get(action.container_id)
            if owner_state is None or owner_state in FINISHED_STATES:
                actions.append(action)
    return RepairPlan(actions=tuple(actions), skipped=plan.skipped, consumers=plan.consumers)


@dataclass(frozen=True, slots=True)
class RepairRound:
    changes: tuple[Change, ...] = ()
    #: Networks that needed a repair but are backed off, and when they open again.
    postponed: tuple[tuple[str, float], ...] = ()
    #: Networks whose files were changed (to be checked again).
    touched: frozenset[str] = frozenset()


@dataclass(slots=True)
class Repairer:
    gate: RepairGate = field(default_factory=RepairGate)
    lock_timeout: float = 10.0

    def repair(
        self,
        session: PodmanSession,
        result: CheckResult,
        findings: Iterable[Finding],
        now: float,
    ) -> RepairRound:
        plan = prune_plan(result, findings)
        if plan.empty:
            return RepairRound()
        allowed = [a for a in plan.actions if self.gate.allows(a.network, now)]
        postponed = sorted(
            {
                (a.network, self.gate.open_at(a.network, now))
                for a in plan.actions
                if not self.gate.allows(a.network, now)
            }
        )
        if not allowed:
            return RepairRound(postponed=tuple(postponed))
        changes = self._apply(session, result, RepairPlan(actions=tuple(allowed), skipped=()))
        for network in sorted({a.network for a in allowed}):
            failed = any(c.status == "failed" and c.network == network for c in changes)
            self.gate.record(network, now, ok=not failed)
        touched = frozenset(c.network for c in changes if c.status == "done" and c.network)
        return RepairRound(tuple(changes), tuple(postponed), touched)

    def _apply(
        self, session: PodmanSession, result: CheckResult, plan: RepairPlan
    ) -> tuple[Change, ...]:
        try:
            if result.context.network_backend == "cni":
                from aardcheck.runner.cni_fix import apply_cni

                return apply_cni(session, plan, result.findings, lock_timeout=self.lock_timeout)
            access = host_access(
                session,
                result.snapshot.directory.run_dir,
                result.snapshot.aardvark_version,
                lock_timeout=self.lock_timeout,
            )
            return apply_plan(plan, access)
        except AardcheckError as err:  # lock busy, podman gone: every step failed
            return tuple(
                Change(type(a).__name__, a.network, getattr(a, "path", ""), "failed", str(err))
                for a in plan.actions
            )
