"""check -> plan -> (confirm) -> apply -> verify: ``aardcheck fix`` on an aardvark host,
and what every repair needs to touch this host (``host_access``, shared by ``fix``,
``clean``, the pre-flight and the watcher).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from aardcheck.errors import AardcheckError
from aardcheck.findings import CheckResult, Kind
from aardcheck.models import AardvarkVersion, RunDir
from aardcheck.runner.check import check_with
from aardcheck.runner.options import FixOptions
from aardcheck.sources.podman_api import PodmanSession, connect

if TYPE_CHECKING:
    # imported when a repair runs: `check` never pays for the repair modules
    from aardcheck.repair.apply import HostAccess
    from aardcheck.repair.outcome import Change, FixResult
    from aardcheck.repair.plan import RecreateNetwork, RepairPlan

#: Re-creates one network through the session and returns the logged changes.
RecreateHook = Callable[[PodmanSession, "RecreateNetwork"], "list[Change]"]


def _verify(session: PodmanSession, options: FixOptions, networks: frozenset[str]) -> CheckResult:
    """Check the touched networks again; aardvark reloads asynchronously, so DNS answers
    get a few bounded retries before a mismatch counts."""
    verify_opts = replace(options.check, networks=networks, strict_selection=False)
    result = check_with(session, verify_opts)
    for _ in range(options.verify_attempts - 1):
        if not any(f.kind in (Kind.DNS_MISMATCH, Kind.RESOLVER_DOWN) for f in result.findings):
            break
        time.sleep(options.verify_pause)
        result = check_with(session, verify_opts)
    return result


def host_access(
    session: PodmanSession, run_dir: RunDir, version: AardvarkVersion, *, lock_timeout: float = 30.0
) -> HostAccess:
    """What a repair needs to touch this host (shared by fix, clean and the watcher)."""
    # imported here: `check` never repairs and should not pay for the repair modules
    from aardcheck.repair.apply import UNDER_LOCK_LISTING_WAIT, HostAccess
    from aardcheck.repair.locks import network_config_dir, podman_lock_path

    info = session.host_info(detailed=True)  # the locks' paths need the graph root
    return HostAccess(
        run_dir=run_dir,
        version=version,
        podman_lock=podman_lock_path(
            rootless=info.rootless,
            podman_version=info.podman_version,
            graph_root=info.graph_root,
        ),
        network_config_dir=network_config_dir(rootless=info.rootless, graph_root=info.graph_root),
        fresh_containers=functools.partial(
            session.container_states, timeout=UNDER_LOCK_LISTING_WAIT
        ),
        lock_timeout=lock_timeout,
    )


def run_fix(
    options: FixOptions,
    confirm: Callable[[RepairPlan], bool],
    recreate: RecreateHook | None = None,
) -> FixResult:
    """check -> plan -> (confirm) -> apply -> verify. ``confirm`` sees the whole plan."""
    from aardcheck.repair.outcome import Change, FixResult
    from aardcheck.repair.plan import build_plan

    with connect(options.check.url) as session:
        before = check_with(session, options.check)
        if before.context.network_backend == "cni":
            from aardcheck.runner.cni_fix import fix_cni

            return fix_cni(session, before, options, confirm)
        plan = build_plan(
            before.snapshot,
            before.findings,
            strategy=options.strategy,
            recreate=options.recreate,
            restart_consumers=options.restart_consumers,
        )
        if plan.empty or options.dry_run or not confirm(plan):
            return FixResult(before, plan)
        access = host_access(
            session,
            before.snapshot.directory.run_dir,
            before.snapshot.aardvark_version,
            lock_timeout=options.lock_timeout,
        )
        hook = (lambda action: recreate(session, action)) if recreate is not None else None
        from aardcheck.repair.apply import apply_plan

        changes = apply_plan(plan, access, hook)
        touched = frozenset(plan.networks) & (
            frozenset(before.checked_networks) | frozenset(plan.networks)
        )
        try:
            after = _verify(session, options, touched) if touched else None
        except AardcheckError as err:
            # The repair happened: report it, and say the verification could not be made.
            failed = Change("verify", "", ", ".join(sorted(touched)), "failed", str(err))
            return FixResult(before, plan, (*changes, failed), None, applied=True)
        return FixResult(before, plan, changes, after, applied=True)
