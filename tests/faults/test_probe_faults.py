"""aardvark-dns not answering, and the asking member's namespace vanishing.

The resolver cases use only namespaces this test makes (an ``unshare --net`` process with
a veth pair of its own, so nothing leaves it) or the session's throw-away rootless user,
whose aardvark-dns serves only this session's networks: the host's shared rootful
aardvark-dns is never stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

import pytest

from aardcheck.checks.analysis import analyse
from aardcheck.errors import ExitCode
from aardcheck.findings import Kind
from aardcheck.models import (
    DnsDirectory,
    PodmanState,
    ProbeAnswer,
    ProbeSkipped,
    ProbeStatus,
    RunDir,
    Scope,
    Snapshot,
)
from aardcheck.sources import probe
from aardcheck.sources.probe import ProbeTarget, probe_budget, probe_networks
from tests.realpodman import PodmanHost, run_aardcheck, wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="making a network namespace needs root")
MEMBER = "192.0.2.7"  # TEST-NET-1: the member's own address, on a veth of its own
SILENT = "192.0.2.1"  # nothing holds it: the query leaves on the veth and is never answered
CLOSED = "192.0.2.53"  # held by the namespace, nothing listens: port unreachable
SETUP = (
    "ip link set lo up && ip link add m0 type veth peer name m1 && "
    f"ip addr add {MEMBER}/24 dev m0 && ip addr add {CLOSED}/32 dev lo && "
    "ip link set m1 up && ip link set m0 up && "
    "echo ready && exec sleep 120"
)


@dataclass
class OwnNetns:
    holder: subprocess.Popen[str]

    @property
    def path(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    def ip(self, *args: str) -> str:
        argv = ["nsenter", f"--net={self.path}", "ip", *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout

    def frames_seen(self) -> int:
        """Frames the veth's far end received (the member's ARP for the server)."""
        (link,) = json.loads(self.ip("-s", "-j", "link", "show", "m1"))
        return int(link["stats64"]["rx"]["packets"])


@pytest.fixture
def netns() -> Iterator[OwnNetns]:
    holder = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", SETUP], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield OwnNetns(holder)
    finally:
        holder.kill()
        holder.wait(timeout=10)


def _target(netns: OwnNetns, server: str = SILENT) -> ProbeTarget:
    return ProbeTarget("own", ip_address(server), netns.path, ("a", "b"), None, ip_address(MEMBER))


def _findings(answers: tuple[ProbeAnswer, ...], skipped: tuple[ProbeSkipped, ...]) -> set[Kind]:
    snapshot = Snapshot(
        directory=DnsDirectory(RunDir(Path("/nonexistent"), Scope.ROOTFUL, 0), exists=False),
        podman=PodmanState((), ()),
        probes=answers,
        probe_skipped=skipped,
        probed=True,
    )
    return {f.kind for f in analyse(snapshot)}


@needs_root
@pytest.mark.parametrize("server", [SILENT, CLOSED], ids=["not-answering", "not-running"])
def test_resolver_down_times_out_per_query_and_finishes(netns: OwnNetns, server: str) -> None:
    """A resolver that drops every query (or a port nothing listens on): each query times
    out on its own clock, the whole probe ends within its budget, resolver-down."""
    timeout = 0.4
    started = time.monotonic()
    answers, skipped = probe_networks([_target(netns, server)], count=3, timeout=timeout)
    elapsed = time.monotonic() - started
    assert skipped == ()
    tries = [t for a in answers for t in a.tries]
    # every question, count times, in each of the ATTEMPTS a silent network gets
    assert len(tries) == 2 * 2 * 3 * probe.ATTEMPTS
    assert {t.status for t in tries} == {ProbeStatus.TIMEOUT}
    assert elapsed < probe_budget(timeout) + 3.0, elapsed
    assert Kind.RESOLVER_DOWN in _findings(answers, skipped)


@needs_root
def test_member_namespace_gone_before_the_probe_is_unchecked(netns: OwnNetns) -> None:
    path = netns.path
    netns.holder.kill()
    netns.holder.wait(timeout=10)
    answers, skipped = probe_networks([_target(netns)], timeout=0.3)
    (skip,) = skipped
    assert answers == () and path in skip.reason
    kinds = _findings(answers, skipped)
    assert Kind.UNCHECKED in kinds and Kind.RESOLVER_DOWN not in kinds


@needs_root
def test_member_namespace_vanishing_mid_probe_is_not_resolver_down(netns: OwnNetns) -> None:
    result: list[tuple[tuple[ProbeAnswer, ...], tuple[ProbeSkipped, ...]]] = []
    probing = threading.Thread(
        target=lambda: result.append(probe_networks([_target(netns)], count=3, timeout=1.5))
    )
    probing.start()
    # the probe is under way once the member asks who has the server's address
    wait_until(lambda: netns.frames_seen() > 0, timeout=20, what="the probe's first frame")
    netns.ip("link", "del", "m0")  # the container's veth goes with its teardown
    netns.holder.kill()
    probing.join(timeout=30)
    answers, skipped = result[0]
    assert Kind.RESOLVER_DOWN not in _findings(answers, skipped)


# --------------------------------------------------------------------------- rootless


def _user_aardvark(host: PodmanHost) -> int:
    assert host.user is not None
    pid = int((host.aardvark_dir / "aardvark.pid").read_text())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "aardvark-dns"
    assert os.stat(f"/proc/{pid}").st_uid == host.user.uid  # the session user's own
    return pid


def test_real_resolver_not_answering_is_resolver_down(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """The session user's aardvark-dns is stopped (SIGSTOP): check asks, every query times
    out, it reports resolver-down for the network, finishes, and changes nothing."""
    host = rootless_host
    net = host.network_create(net_name("mute"))
    member = host.run(net_name("mute"), {net: ["app"]})
    pid = _user_aardvark(host)
    before = host.read_aardvark_file(net)
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        proc = run_aardcheck(
            "check", "--format", "json", "--network", net,
            "--probe-timeout", "0.3", "--probe-count", "2", host=host, timeout=120,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert proc.returncode == ExitCode.FINDINGS, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    (down,) = [f for f in doc["findings"] if f["kind"] == "resolver-down"]
    assert down["network"] == net and down["severity"] == "critical"
    tries = [t["status"] for p in doc["probes"] if p["network"] == net for t in p["tries"]]
    assert tries and set(tries) == {"timeout"}
    assert elapsed < 60, elapsed
    assert host.read_aardvark_file(net) == before
    assert host.wait_for_answers(net, "app", {member.ips[net]}) == {member.ips[net]}
