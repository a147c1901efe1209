"""``fix`` on a CNI podman: plan -> (confirm) -> apply under dnsname's lock -> verify.

dnsmasq answers addnhosts names with TTL 0, so no consumer keeps a stale answer and the
plan never lists containers to restart. The re-create strategy is aardvark's only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from aardcheck.errors import UsageError
from aardcheck.findings import CheckResult, Finding
from aardcheck.repair.dnsname_apply import apply_dnsname_plan
from aardcheck.repair.dnsname_plan import build_dnsname_plan
from aardcheck.repair.outcome import Change, FixResult
from aardcheck.repair.plan import RepairPlan, Strategy
from aardcheck.runner.check import check_with
from aardcheck.runner.options import FixOptions
from aardcheck.sources.podman_api import PodmanSession


def apply_cni(
    session: PodmanSession,
    plan: RepairPlan,
    findings: Sequence[Finding],
    *,
    lock_timeout: float = 30.0,
) -> tuple[Change, ...]:
    """Apply a dnsname plan with podman's answers re-read under the plugin's lock
    (shared by ``fix``, ``clean`` and the watcher)."""

    def network_exists(name: str) -> bool:
        return any(n.name == name for n in session.state().networks)

    return apply_dnsname_plan(
        plan,
        findings,
        containers=session.container_states,
        network_exists=network_exists,
        lock_timeout=lock_timeout,
    )


def fix_cni(
    session: PodmanSession,
    before: CheckResult,
    options: FixOptions,
    confirm: Callable[[RepairPlan], bool],
) -> FixResult:
    if options.strategy is Strategy.RECREATE or options.recreate:
        raise UsageError("--strategy recreate re-creates aardvark networks only, not dnsname ones")
    plan = build_dnsname_plan(before)
    if plan.empty or options.dry_run or not confirm(plan):
        return FixResult(before, plan)
    changes = apply_cni(session, plan, before.findings, lock_timeout=options.lock_timeout)
    # dnsmasq re-reads addnhosts when it gets SIGHUP: one check shows the result
    verify = replace(options.check, networks=frozenset(plan.networks), strict_selection=False)
    return FixResult(before, plan, changes, check_with(session, verify), applied=True)
