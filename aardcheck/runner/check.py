"""gather -> analyse -> result: one check of an aardvark host. Shared by every command
and the watcher; a CNI host's check is ``cni_check``'s. No policy of its own.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Generic, TypeVar

from aardcheck.checks.analysis import analyse, liveness_requests
from aardcheck.checks.probe_plan import plan_probes
from aardcheck.errors import EnvironmentUnavailable, UsageError
from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import (
    AddressLiveness,
    DnsDirectory,
    ProbeAnswer,
    ProbeSkipped,
    RunDir,
    Snapshot,
)
from aardcheck.runner.options import CheckOptions
from aardcheck.sources import discovery
from aardcheck.sources.aardvark_files import (
    AARDVARK_DIRS,
    installed_aardvark_version,
    read_dns_directory,
)
from aardcheck.sources.podman_api import PodmanSession, connect
from aardcheck.sources.podman_host import HostInfo

if TYPE_CHECKING:
    from aardcheck.sources.liveness import LivenessRequest
    from aardcheck.sources.netns import Stopper

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


def resolve_run_dir(options: CheckOptions, info: HostInfo) -> RunDir:
    if options.run_dir is not None:
        return discovery.run_dir_override(options.run_dir)
    return discovery.run_dir_for(rootless=info.rootless, run_root=info.run_root, uid=info.uid)


def _rootless_uid(info: HostInfo) -> int | None:
    """The rootless user whose namespaces hold the networks (None: rootful podman)."""
    return info.uid if info.rootless else None


#: What answers whether something holds an address: requests and a wait in seconds ->
#: one answer per address (the watcher's reuses answers it already has, watch/lookahead).
LivenessSource = Callable[[Sequence["LivenessRequest"], float], tuple[AddressLiveness, ...]]


def _liveness(
    snapshot: Snapshot, info: HostInfo, timeout: float, source: LivenessSource | None
) -> tuple[AddressLiveness, ...]:
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
    if not requests:
        return ()
    if source is not None:
        return source(requests, timeout)
    return liveness.check_liveness_many(requests, timeout=timeout)


#: Seconds between two looks at ``give_up`` while the probe runs.
_GIVE_UP_POLL = 0.05
#: Seconds a stopped probe is waited for: its agents are killed at once, but an agent
#: that ``podman unshare`` started outside their process group ends only at its budget.
_STOP_WAIT = 1.0


def _probe(
    snapshot: Snapshot,
    info: HostInfo,
    options: CheckOptions,
    stopper: Stopper | None = None,
) -> tuple[tuple[ProbeAnswer, ...], tuple[ProbeSkipped, ...]]:
    from aardcheck.sources.probe import ProbeTarget, probe_networks

    planned, skipped = plan_probes(snapshot)
    answers: list[ProbeAnswer] = []
    failed: list[ProbeSkipped] = list(skipped)
    # AAAA is asked only on networks that have IPv6: fewer queries, nothing forwarded.
    for rdtypes in sorted({p.rdtypes for p in planned}):
        targets = [
            ProbeTarget.planned(p, _rootless_uid(info)) for p in planned if p.rdtypes == rdtypes
        ]
        got, missed = probe_networks(
            targets,
            count=options.probe_count,
            timeout=options.probe_timeout,
            rdtypes=rdtypes,
            stopper=stopper,
        )
        answers.extend(got)
        failed.extend(missed)
    return tuple(answers), tuple(failed)


def _timed(phases: dict[str, float], name: str, call: Callable[..., T], *args: object) -> T:
    started = time.monotonic()
    try:
        return call(*args)
    finally:
        phases[name] = time.monotonic() - started


#: Seconds of slack for a file's mtime against the wall clock: the kernel stamps files
#: from a coarse clock that may lag ``time.time()`` by a tick.
_MTIME_SLACK = 0.05


def _changed_since(directory: DnsDirectory, when: float) -> bool:
    """Whether the run directory or one of its files changed after ``when`` (wall clock):
    then a listing asked at ``when`` may lack a container whose line is in the files."""
    paths = [directory.run_dir.dns_dir, *(f.path for f in directory.files)]
    for path in paths:
        try:
            if os.stat(path).st_mtime >= when - _MTIME_SLACK:
                return True
        except FileNotFoundError:
            if directory.files or path != directory.run_dir.dns_dir:
                return True  # gone since it was read
        except OSError:
            return True
    return False


def _gave_up(
    probe: threading.Thread, began: float, give_up: Callable[[float], bool], stopper: Stopper
) -> bool:
    """Wait for the probe unless ``give_up``, asked with the seconds it has run, says to
    stop waiting: then the probe is stopped (its agents killed) and waited for, which
    takes milliseconds - no probe runs on behind the check. Bounded: the probe ends
    within its own budget, and is waited for at most ``_STOP_WAIT`` once stopped."""
    while probe.is_alive():
        probe.join(_GIVE_UP_POLL)
        if probe.is_alive() and give_up(time.monotonic() - began):
            stopper.stop()
            probe.join(_STOP_WAIT)
            return True
    return False


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
    session: PodmanSession,
    options: CheckOptions,
    info: HostInfo | None = None,
    on_partial: Callable[[Snapshot], None] | None = None,
    phases: dict[str, float] | None = None,
    give_up: Callable[[float], bool] | None = None,
    liveness_source: LivenessSource | None = None,
) -> tuple[Snapshot, HostInfo, RunDir]:
    """The files, podman's listing, the liveness of unknown addresses and, with
    ``options.probe``, the resolver's answers. ``on_partial`` is given the snapshot
    without the probe's answers as soon as the rest is known: the probe can take a
    timeout or two (aardvark-dns 1.4 leaves queries unanswered while it reloads), and
    the findings that do not depend on it need not wait for it. ``phases``, when given,
    receives the seconds each part took (``listing``, ``liveness``, ``probe``): what a
    slow check spent its time on. ``give_up`` (the watcher's) is asked while the probe
    runs, after ``on_partial``, with the seconds it has run: True stops the probe and
    returns the partial snapshot (``probed`` stays False). ``liveness_source`` replaces
    asking on the wire for every address (the watcher's look-ahead)."""
    timed = phases if phases is not None else {}
    begun = time.monotonic()
    info = info or session.host_info()
    if info.network_backend and info.network_backend != "netavark":
        raise EnvironmentUnavailable(
            f"podman uses the {info.network_backend} network backend: there is no aardvark-dns "
            "to check (aardcheck needs netavark)"
        )
    run_dir = resolve_run_dir(options, info)
    # podman's listings (most of a check's wait) overlap reading the files
    listing = _Background(functools.partial(session.state, early=True))
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
    if session.prefetched_at is not None and _changed_since(directory, session.prefetched_at):
        state = session.state()  # asked before the imports, and a file changed since
    timed["listing"] = time.monotonic() - begun
    snapshot = Snapshot(
        directory=directory, podman=state, aardvark_version=version, selected=options.networks
    )
    if options.strict_selection:
        _check_selection(snapshot, sorted(options.networks))
    # Both sources run in helper processes; run them side by side so a silent address
    # (the liveness timeout) and the probe's slowest network overlap instead of adding up.
    probed: _Background[tuple[tuple[ProbeAnswer, ...], tuple[ProbeSkipped, ...]]] | None = None
    if options.probe:
        from aardcheck.sources.netns import Stopper

        stopper = Stopper()
        probe = functools.partial(_timed, timed, "probe", _probe, snapshot, info, options, stopper)
        probed = _Background(probe)
    looked = time.monotonic()
    heard = _liveness(snapshot, info, options.liveness_timeout, liveness_source)
    snapshot = replace(snapshot, liveness=heard)
    timed["liveness"] = time.monotonic() - looked
    if probed is not None:
        if on_partial is not None:
            on_partial(snapshot)
        if give_up is not None and _gave_up(probed, looked, give_up, stopper):
            timed["probe stopped"] = timed.pop("probe", time.monotonic() - looked)
            return snapshot, info, run_dir
        answers, skipped = probed.result()
        snapshot = replace(snapshot, probes=answers, probe_skipped=skipped, probed=True)
    return snapshot, info, run_dir


def check_with(
    session: PodmanSession,
    options: CheckOptions,
    on_partial: Callable[[Snapshot], None] | None = None,
    give_up: Callable[[float], bool] | None = None,
    liveness_source: LivenessSource | None = None,
) -> CheckResult:
    """One check; ``on_partial``, ``give_up`` and ``liveness_source`` as in ``gather`` (a
    CNI host's check has no early part)."""
    started = time.monotonic()
    info = session.host_info()
    if info.network_backend == "cni":
        # podman 3.x/4.x with CNI: the dnsname plugin's dnsmasq serves the names
        from aardcheck.runner.cni_check import check_cni

        return check_cni(session, options, info)
    phases: dict[str, float] = {}
    snapshot, info, run_dir = gather(
        session, options, info, on_partial, phases, give_up, liveness_source
    )
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
        phases=tuple(phases.items()),
        probe_stopped=options.probe and not snapshot.probed,
    )


def run_check(options: CheckOptions) -> CheckResult:
    with connect(options.url) as session:
        return check_with(session, options)
