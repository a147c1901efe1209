"""gather -> analyse -> result. Shared by every command and the watcher.

The only module that wires sources to the pure core; it owns no policy of its own.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from aardcheck.analysis import analyse, liveness_requests
from aardcheck.errors import AardcheckError, EnvironmentUnavailable, UsageError
from aardcheck.models import (
    AardvarkVersion,
    AddressLiveness,
    CheckContext,
    CheckResult,
    Kind,
    ProbeAnswer,
    ProbeSkipped,
    RunDir,
    Snapshot,
)
from aardcheck.probe_plan import plan_probes
from aardcheck.sources import discovery
from aardcheck.sources.aardvark_files import (
    AARDVARK_DIRS,
    installed_aardvark_version,
    read_dns_directory,
)
from aardcheck.sources.podman_api import HostInfo, PodmanSession, connect

if TYPE_CHECKING:
    # a check never repairs: the repair modules (~10 ms) load only when fixing
    from aardcheck.repair.apply import HostAccess
    from aardcheck.repair.outcome import Change, FixResult
    from aardcheck.repair.plan import RecreateNetwork, RepairPlan, Strategy

#: Re-creates one network through the session and returns the logged changes.
RecreateHook = Callable[[PodmanSession, "RecreateNetwork"], "list[Change]"]
T = TypeVar("T")


class _Background(threading.Thread, Generic[T]):
    """A call on its own thread; ``result`` re-raises what it raised. (Not
    concurrent.futures: its import, with logging, costs ~12 ms of a cold check.)"""

    def __init__(self, call: Callable[[], T]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as err:  # handed to the caller by result()
            self._error = err

    def result(self) -> T:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class CheckOptions:
    networks: frozenset[str] = frozenset()
    probe: bool = True
    probe_count: int = 3
    probe_timeout: float = 1.0
    liveness_timeout: float = 1.5
    run_dir: Path | None = None
    url: str | None = None
    aardvark_version: AardvarkVersion | None = None
    ignore: tuple[Kind, ...] = field(default=())
    #: A selected network that exists nowhere is a usage error - except when verifying a
    #: repair that just deleted the last trace of it.
    strict_selection: bool = True


def resolve_run_dir(options: CheckOptions, info: HostInfo) -> RunDir:
    if options.run_dir is not None:
        return discovery.run_dir_override(options.run_dir)
    return discovery.run_dir_for(rootless=info.rootless, run_root=info.run_root, uid=info.uid)


def _rootless_uid(info: HostInfo) -> int | None:
    """The rootless user whose namespaces hold the networks (None: rootful podman)."""
    return info.uid if info.rootless else None


def _liveness(snapshot: Snapshot, info: HostInfo, timeout: float) -> tuple[AddressLiveness, ...]:
    from aardcheck.sources import liveness

    requests = [
        liveness.LivenessRequest(
            network=req.network,
            interface=req.interface,
            addresses=req.addresses,
            rootless_uid=_rootless_uid(info),
        )
        for req in liveness_requests(snapshot)
    ]
    return liveness.check_liveness_many(requests, timeout=timeout) if requests else ()


def _probe(
    snapshot: Snapshot, info: HostInfo, options: CheckOptions
) -> tuple[tuple[ProbeAnswer, ...], tuple[ProbeSkipped, ...]]:
    from aardcheck.sources.probe import ProbeTarget, probe_networks

    planned, skipped = plan_probes(snapshot)
    answers: list[ProbeAnswer] = []
    failed: list[ProbeSkipped] = list(skipped)
    # AAAA is asked only on networks that have IPv6: fewer queries, nothing forwarded.
    for rdtypes in sorted({p.rdtypes for p in planned}):
        targets = [
            ProbeTarget(
                network=p.network,
                server=p.server,
                netns_path=p.netns_path,
                names=p.names,
                rootless_uid=_rootless_uid(info),
                source=p.source,
                alternates=p.alternates,
            )
            for p in planned
            if p.rdtypes == rdtypes
        ]
        got, missed = probe_networks(
            targets, count=options.probe_count, timeout=options.probe_timeout, rdtypes=rdtypes
        )
        answers.extend(got)
        failed.extend(missed)
    return tuple(answers), tuple(failed)


def _check_selection(snapshot: Snapshot, wanted: Sequence[str]) -> None:
    known = {f.network for f in snapshot.directory.files}
    known |= {n.name for n in snapshot.podman.networks}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise UsageError(
            f"no network named {', '.join(unknown)} (neither in podman nor in "
            f"{snapshot.directory.run_dir.dns_dir})"
        )


def gather(
    session: PodmanSession, options: CheckOptions, info: HostInfo | None = None
) -> tuple[Snapshot, HostInfo, RunDir]:
    info = info or session.host_info()
    if info.network_backend and info.network_backend != "netavark":
        raise EnvironmentUnavailable(
            f"podman uses the {info.network_backend} network backend: there is no aardvark-dns "
            "to check (aardcheck needs netavark)"
        )
    run_dir = resolve_run_dir(options, info)
    # podman's listings (most of a check's wait) overlap reading the files
    listing = _Background(session.state)
    try:
        version = options.aardvark_version or installed_aardvark_version()
        if version is None:
            where = ", ".join(str(d) for d in AARDVARK_DIRS)
            raise EnvironmentUnavailable(
                f"aardvark-dns is not installed (none runs from {where}): podman's networks "
                "get no DNS at all; install aardvark-dns, or give --aardvark-version X.Y to "
                "read the files anyway"
            )
        directory = read_dns_directory(run_dir, version)
    finally:
        state = listing.result()
    snapshot = Snapshot(
        directory=directory, podman=state, aardvark_version=version, selected=options.networks
    )
    if options.strict_selection:
        _check_selection(snapshot, sorted(options.networks))
    # Both sources run in helper processes; run them side by side so a silent address
    # (the liveness timeout) and the probe's slowest network overlap instead of adding up.
    probed = (
        _Background(functools.partial(_probe, snapshot, info, options)) if options.probe else None
    )
    snapshot = replace(snapshot, liveness=_liveness(snapshot, info, options.liveness_timeout))
    if probed is not None:
        answers, skipped = probed.result()
        snapshot = replace(snapshot, probes=answers, probe_skipped=skipped, probed=True)
    return snapshot, info, run_dir


def check_with(session: PodmanSession, options: CheckOptions) -> CheckResult:
    started = time.monotonic()
    info = session.host_info()
    if info.network_backend == "cni":
        # podman 3.x/4.x with CNI: the dnsname plugin's dnsmasq serves the names
        from aardcheck.cni_check import check_cni

        return check_cni(session, options, info)
    snapshot, info, run_dir = gather(session, options, info)
    findings = analyse(snapshot, ignore=options.ignore)
    return CheckResult(
        snapshot=snapshot,
        findings=findings,
        context=CheckContext(
            run_dir=str(run_dir.path),
            scope=str(run_dir.scope),
            podman_version=info.podman_version,
            api_url=session.url,
            private_api=session.private,
        ),
        duration_s=time.monotonic() - started,
    )


def run_check(options: CheckOptions) -> CheckResult:
    with connect(options.url) as session:
        return check_with(session, options)


# --------------------------------------------------------------------------- fix


def _prune() -> Strategy:
    from aardcheck.repair.plan import Strategy

    return Strategy.PRUNE


@dataclass(frozen=True, slots=True)
class FixOptions:
    check: CheckOptions
    strategy: Strategy = field(default_factory=_prune)
    recreate: frozenset[str] = frozenset()
    restart_consumers: bool = False
    dry_run: bool = False
    lock_timeout: float = 30.0
    #: Verification re-probes while aardvark may still be reloading (bounded).
    verify_attempts: int = 4
    verify_pause: float = 0.5


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
            from aardcheck.cni_fix import fix_cni

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
