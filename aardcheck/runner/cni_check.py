"""``check`` on a podman whose network backend is CNI: the dnsname plugin's networks.

The CNI counterpart of ``runner.check`` (``gather``, ``check_with``): podman's state, the
plugin's run directory, the liveness second source on each bridge and the in-netns probe
of each network's dnsmasq, then the pure dnsname checks. No policy of its own.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from aardcheck.checks.analysis import sort_key
from aardcheck.dnsname.checks import check_dnsname, liveness_wanted
from aardcheck.dnsname.model import DnsnameRoot
from aardcheck.dnsname.probing import check_dnsname_answers, plan_dnsname_probes
from aardcheck.errors import UsageError
from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import (
    AddressLiveness,
    DnsDirectory,
    ProbeAnswer,
    ProbeSkipped,
    RunDir,
    Scope,
    Snapshot,
)
from aardcheck.runner.options import CheckOptions
from aardcheck.sources.dnsname_files import dnsname_dir_for, read_dnsname_root
from aardcheck.sources.podman_api import PodmanSession
from aardcheck.sources.podman_host import HostInfo


def dnsname_dir(options: CheckOptions, info: HostInfo) -> Path:
    """``--run-dir`` names the plugin's directory on a CNI host; else the plugin's rule
    with the runtime directory podman passes the plugin: a rootless podman's is its
    user's, the one aardcheck runs with when it is that user (else /run/user/UID)."""
    if options.run_dir is not None:
        return options.run_dir.expanduser()
    xdg = None
    if info.rootless:
        own = os.environ.get("XDG_RUNTIME_DIR") if os.geteuid() == info.uid else None
        xdg = own or f"/run/user/{info.uid}"
    return dnsname_dir_for(rootless=info.rootless, xdg_runtime_dir=xdg)


def _liveness(
    root: DnsnameRoot, snapshot: Snapshot, info: HostInfo, timeout: float
) -> tuple[AddressLiveness, ...]:
    from aardcheck.sources import liveness

    interfaces = {n.name: n.interface for n in snapshot.podman.networks}
    requests = [
        liveness.LivenessRequest(
            network=network,
            interface=interfaces[network],
            addresses=addresses,
            rootless_uid=info.uid if info.rootless else None,
        )
        for network, addresses in liveness_wanted(root, snapshot.podman, snapshot.selected).items()
    ]
    return liveness.check_liveness_many(requests, timeout=timeout) if requests else ()


def _probe(
    root: DnsnameRoot, snapshot: Snapshot, info: HostInfo, options: CheckOptions
) -> tuple[tuple[ProbeAnswer, ...], tuple[ProbeSkipped, ...]]:
    from aardcheck.sources.probe import ProbeTarget, probe_networks

    planned, skipped = plan_dnsname_probes(root, snapshot.podman, snapshot.selected)
    targets = [ProbeTarget.planned(p, info.uid if info.rootless else None) for p in planned]
    if not targets:
        return (), skipped
    # dnsmasq forwards names it does not know: ask A only (IPv4 bridges, no upstream)
    answers, missed = probe_networks(
        targets, count=options.probe_count, timeout=options.probe_timeout, rdtypes=("A",)
    )
    return answers, (*skipped, *missed)


def check_cni(session: PodmanSession, options: CheckOptions, info: HostInfo) -> CheckResult:
    """One check of every dnsname network of this podman (and orphan directories)."""
    started = time.monotonic()
    state = session.state()
    path = dnsname_dir(options, info)
    root = read_dnsname_root(path)
    known = {n.name for n in state.networks} | {d.network for d in root.networks}
    unknown = sorted(set(options.networks) - known)
    if unknown and options.strict_selection:
        raise UsageError(f"no network named {', '.join(unknown)} (neither in podman nor in {path})")
    scope = Scope.ROOTLESS if info.rootless else Scope.ROOTFUL
    snapshot = Snapshot(
        # no aardvark directory on a CNI host: an empty one keeps the aardvark checks idle
        directory=DnsDirectory(run_dir=RunDir(path, scope, info.uid), exists=False),
        podman=state,
        selected=options.networks,
    )
    snapshot = replace(snapshot, liveness=_liveness(root, snapshot, info, options.liveness_timeout))
    findings = set(
        check_dnsname(root, state, selected=options.networks, liveness=snapshot.liveness)
    )
    if options.probe:
        answers, skipped = _probe(root, snapshot, info, options)
        snapshot = replace(snapshot, probes=answers, probe_skipped=skipped, probed=True)
        findings.update(check_dnsname_answers(state, answers))
    kept = sorted((f for f in findings if f.kind not in options.ignore), key=sort_key)
    return CheckResult(
        snapshot=snapshot,
        findings=tuple(kept),
        context=CheckContext(
            run_dir=str(path),
            scope=str(scope),
            podman_version=info.podman_version,
            api_url=session.url,
            private_api=session.private,
            network_backend="cni",
        ),
        duration_s=time.monotonic() - started,
        dnsname_networks=tuple(
            sorted(
                {d.network for d in root.networks}
                | {n.name for n in state.networks if n.dns_enabled}
            )
        ),
    )


def dnsname_directory(options: CheckOptions, info: HostInfo) -> DnsDirectory:
    """The plugin's networks in the shape ``preflight`` reads leftovers from: one empty
    ``NetworkFile`` per ``dnsname/NET/`` (its name is what a re-created network takes
    over; its addresses say nothing about other networks - each dnsmasq serves only its
    own bridge - so none are given)."""
    from aardcheck.models import NetworkFile

    path = dnsname_dir(options, info)
    root = read_dnsname_root(path)
    scope = Scope.ROOTLESS if info.rootless else Scope.ROOTFUL
    files = tuple(
        NetworkFile(
            path=d.path, network=d.network, internal=False, content=b"", header=None, entries=()
        )
        for d in root.networks
    )
    return DnsDirectory(run_dir=RunDir(path, scope, info.uid), exists=root.exists, files=files)
