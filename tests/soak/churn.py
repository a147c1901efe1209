"""The churn soak: containers on several networks created, restarted, killed, removed,
networks removed and re-created, natural stale lines planted at known times - while one
``aardcheck watch --format json`` (probe on) watches those networks.

Shared by the CI test (tests/soak/test_soak.py, short) and the benchmark (bench/soak.py,
long). Every loop is bounded in count and in time; everything created carries the
harness session's prefix and is removed by the session's cleanup.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aardcheck.sources.netns import processes_named
from tests.realpodman import PodmanHost, run_aardcheck
from tests.realpodman.dns import NO_REPLY
from tests.realpodman.proc import CommandError, HarnessError
from tests.soak.ledger import Identity, Planted, Sample, identity, judge, summary
from tests.watch.namespaces import NamespaceId, namespace_references, watcher_pids
from tests.watch.process import WatchProcess

TICKS = os.sysconf("SC_CLK_TCK")
#: churn actions podman may fail before the soak stops (see Churn._action_failed)
MAX_FAILED_ACTIONS = 5


@dataclass(frozen=True)
class SoakPlan:
    networks: int = 3
    #: containers kept on each network (churn replaces the ones it removes)
    members: int = 3
    seconds: float = 90.0
    #: hard bound on churn actions, whatever the clock says
    max_actions: int = 400
    #: a natural stale line is planted every this many seconds of churn
    plant_every: float = 25.0
    #: one network is removed and re-created every this many seconds
    recreate_every: float = 40.0
    sample_every: float = 2.0
    seed: int = 13


@dataclass
class _Net:
    name: str
    members: list[str] = field(default_factory=list)


class Soak:
    def __init__(self, host: PodmanHost, plan: SoakPlan, say: Callable[[str], None]) -> None:
        self.host = host
        self.plan = plan
        self.say = say
        self.rng = random.Random(plan.seed)
        self.nets = [
            _Net(host.network_create(host.session.new_name("soak"))) for _ in range(plan.networks)
        ]
        self.counts: Counter[str] = Counter()
        self.planted: list[Planted] = []
        self.samples: list[Sample] = []
        self.namespaces: set[NamespaceId] = set()
        self.sandbox_keys: list[str] = []
        self.watcher: WatchProcess | None = None
        #: resolver-down transitions (arrival time) -> a member's own query failed too
        self.witnessed: dict[float, bool] = {}
        #: when the aardvark-dns serving these networks was seen replaced (real outages)
        self.resolver_restarts: list[float] = []
        self._resolver_pids = self._aardvark_pids()

    # ---- containers -------------------------------------------------------------------

    def _start(self, net: _Net) -> None:
        name = self.host.session.new_name("c")
        try:
            info = self.host.run(name, {net.name: ["app"]})
        except CommandError:
            self.host.podman("rm", "-f", name, check=False, timeout=60)  # a half-made one
            raise
        net.members.append(info.name)
        self.sandbox_keys.append(info.sandbox_key)
        with contextlib.suppress(OSError):
            st = os.stat(f"/proc/{info.pid}/ns/net")
            self.namespaces.add((st.st_dev, st.st_ino))
        self.counts["create"] += 1

    def _pick(self) -> tuple[_Net, str] | None:
        nets = [n for n in self.nets if n.members]
        if not nets:
            return None
        net = self.rng.choice(nets)
        return net, self.rng.choice(net.members)

    def _churn_once(self) -> None:
        picked = self._pick()
        action = self.rng.choice(("restart", "kill", "remove", "create"))
        if picked is None or action == "create":
            net = min(self.nets, key=lambda n: len(n.members))
            self._start(net)
            return
        net, name = picked
        if action == "restart":
            self.host.podman("restart", "-t", "0", name, timeout=120)
        elif action == "kill":
            # killed, then gone a moment later: the dying member may be the probe's asker
            self.host.podman("kill", name, check=False, timeout=60)
            self.host.rm(name)
            net.members.remove(name)
        else:
            self.host.rm(name)
            net.members.remove(name)
        self.counts[action] += 1
        while len(net.members) < self.plan.members:
            self._start(net)

    def _action_failed(self, err: CommandError) -> None:
        """A churn action podman failed (runc's "read init-p: connection reset by peer"
        ended a 30-minute soak at 18 minutes once): counted, and the churn goes on; past
        MAX_FAILED_ACTIONS podman is not well and the soak stops."""
        self.counts["failed-action"] += 1
        self.say(f"soak: a podman action failed, going on: {' '.join(str(err).split())[:300]}")
        if self.counts["failed-action"] > MAX_FAILED_ACTIONS:
            raise err

    def _recreate_network(self) -> None:
        # Not a network still holding a planted line: `network rm -f` keeps such a file
        # and the new network inherits its old header (a true header-mismatch, but one
        # this ledger cannot place in time - that failure has tests of its own).
        held = {n for p in self.planted if p.repaired is None for n in p.networks}
        free = [n for n in self.nets if n.name not in held]
        if not free:
            return
        net = self.rng.choice(free)
        for name in list(net.members):
            self.host.rm(name)
        net.members.clear()
        self.host.network_rm(net.name)
        self.host.network_create(net.name)
        for _ in range(self.plan.members):
            self._start(net)
        self.counts["network-recreate"] += 1

    def _plant(self) -> None:
        """A natural stale line (the stack's recipe), repaired once the watcher said so."""
        net = self.rng.choice([n for n in self.nets if n.members])
        victim = net.members.pop(self.rng.randrange(len(net.members)))
        started = time.monotonic()
        try:
            stale = self.host.make_natural_stale(victim)
        except HarnessError as err:  # a recipe that did not take is no stale line
            self.say(f"soak: recipe failed on {victim}: {err}")
            self.counts["recipe-failed"] += 1
            with contextlib.suppress(HarnessError):
                self.host.rm(victim)
            return
        names = {stale.container_name, stale.short_id, *stale.aliases}
        planted = Planted(
            container_id=stale.container_id,
            names=frozenset(names),
            addresses=frozenset(stale.ips.values()),
            networks=frozenset(stale.networks),
            started=started,
            ended=time.monotonic(),
        )
        self.planted.append(planted)
        self.counts["stale-planted"] += 1
        while len(net.members) < self.plan.members:
            self._start(net)

    def _repair_detected(self) -> None:
        """Fix the planted lines the watcher reported (so they do not pile up)."""
        assert self.watcher is not None
        verdict_now = judge(self.watcher.json_lines(self.watcher.stdout.items), self.planted, 0)
        del verdict_now  # judge marks ``detected`` on the planted lines
        for p in self.planted:
            if p.detected is not None and p.repaired is None:
                for net in sorted(p.networks):
                    for _ in range(3):  # a busy shared host may fail one listing (exit 3)
                        done = run_aardcheck(
                            "fix", "--yes", "--no-probe", "--network", net, host=self.host
                        )
                        if done.returncode in (0, 1):
                            break
                # Repaired only once the line is gone (fix leaves an unknown-entry, whose
                # address still answers, alone): until then it stays true.
                if not any(p.container_id in self.host.aardvark_ids(n) for n in p.networks):
                    p.repaired = time.monotonic()
                    self.counts["repaired"] += 1

    def _witness_resolver(self) -> None:
        """Ask a member's aardvark the way its containers do (nsenter + dig) when the
        watcher reports resolver-down: no answer there either makes the outage real."""
        assert self.watcher is not None
        for at, doc in self.watcher.json_lines(self.watcher.stdout.items):
            finding = doc.get("finding") or {}
            if doc.get("event") != "appeared" or finding.get("kind") != "resolver-down":
                continue
            if at in self.witnessed:
                continue
            net = next((n for n in self.nets if n.name == finding.get("network")), None)
            self.witnessed[at] = False
            if net is None or not net.members:
                continue
            asker = self.host.container(net.members[0])
            # dig itself, not the harness's dns.dig: that one revives a dead aardvark-dns
            asked = self.host.unshare(
                "nsenter",
                f"--net={asker.sandbox_key}",
                "dig",
                "+short",
                "+time=1",
                "+tries=2",
                f"@{self.host.gateway(net.name)}",
                asker.name,
                check=False,
                timeout=30,
            )
            self.witnessed[at] = asked.returncode == NO_REPLY

    def _aardvark_pids(self) -> frozenset[int]:
        """The aardvark-dns processes of this host's podman (root's in our netns, or
        the rootless user's)."""
        uid = self.host.user.uid if self.host.user else 0
        ours = os.readlink("/proc/self/ns/net")
        found = set()
        for pid in processes_named("aardvark-dns", uid):
            with contextlib.suppress(OSError):
                if uid or os.readlink(f"/proc/{pid}/ns/net") == ours:
                    found.add(pid)
        return frozenset(found)

    def _watch_resolver(self) -> None:
        pids = self._aardvark_pids()
        if pids - self._resolver_pids:  # a new one: the old died or was killed
            self.resolver_restarts.append(time.monotonic())
        self._resolver_pids = pids

    # ---- resources --------------------------------------------------------------------

    def _sample(self) -> None:
        assert self.watcher is not None
        pid = self.watcher.watcher_pid()
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICKS
            rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, ValueError, IndexError):
            return
        child_fds = 0  # not counting netns fds: a check's listing holds those until it ends
        for child in watcher_pids(pid)[1:]:
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{child}/fd"):
                    with contextlib.suppress(OSError):
                        child_fds += "/netns/" not in os.readlink(f"/proc/{child}/fd/{fd}")
        self.samples.append(Sample(time.monotonic(), rss, cpu, fds, child_fds))

    # ---- the run ----------------------------------------------------------------------

    def run(self, watcher: WatchProcess) -> dict[str, Any]:
        self.watcher = watcher
        for net in self.nets:
            while len(net.members) < self.plan.members:
                self._start(net)
        started = time.monotonic()
        deadline = started + self.plan.seconds
        next_plant = started + self.plan.plant_every / 2
        next_recreate = started + self.plan.recreate_every
        next_sample = started
        for _ in range(self.plan.max_actions):
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= next_sample:
                self._sample()
                next_sample = now + self.plan.sample_every
            if now >= next_plant:
                self._plant()
                next_plant = time.monotonic() + self.plan.plant_every
            elif now >= next_recreate:
                self._recreate_network()
                next_recreate = time.monotonic() + self.plan.recreate_every
            else:
                try:
                    self._churn_once()
                except CommandError as err:
                    self._action_failed(err)
            self._repair_detected()
            self._watch_resolver()
            self._witness_resolver()
        self._sample()
        return self.finish()

    def finish(self) -> dict[str, Any]:
        """Wait (bounded) for the last planted lines, then judge; remove every member and
        look for namespaces the watcher still holds."""
        assert self.watcher is not None
        last = max((p.ended for p in self.planted), default=0.0)
        self.watcher.stdout.wait_for(
            lambda _items: all(p.detected is not None for p in self._judged()),
            max(0.0, last + 30.0 - time.monotonic()),
        )
        self._repair_detected()
        verdict = judge(
            self.watcher.json_lines(self.watcher.stdout.items),
            self.planted,
            time.monotonic(),
            self._cold_findings(),
            self.resolver_restarts,
            {at for at, down in self.witnessed.items() if down},
        )
        result = summary(verdict, self.samples, self.counts)
        for net in self.nets:
            for name in list(net.members):
                with contextlib.suppress(HarnessError):
                    self.host.rm(name)
            net.members.clear()
        seen = len(self.watcher.stderr.items)
        with contextlib.suppress(AssertionError):  # a check after the removals, bounded
            self.watcher.wait_stderr(r"check #\d+ .* took ", 30, after=seen)
        pids = watcher_pids(self.watcher.watcher_pid())
        result["pinned"] = namespace_references(pids, self.namespaces, self.sandbox_keys)
        result["containers_seen"] = len(self.namespaces)
        result["aardvark_restarts_seen"] = len(self.resolver_restarts)
        t0 = self.watcher.started  # the same clock as ``--show-log``'s line times
        result["planted_lines"] = [
            {
                "container": p.container_id[:12],
                "recipe_s": round(p.ended - p.started, 2),
                "at_s": round(p.ended - t0, 1),
                "detected_after_s": round(p.detected - p.ended, 2) if p.detected else None,
            }
            for p in self.planted
        ]
        return result

    def _cold_findings(self) -> set[Identity]:
        """What a cold ``aardcheck check`` (no watcher, probe on) finds now."""
        args = ["check", "--format", "json", "--no-watcher"]
        for net in self.nets:
            args += ["--network", net.name]
        done = run_aardcheck(*args, host=self.host)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            self.say(f"soak: cold check gave no JSON (exit {done.returncode}): {done.stderr}")
            return set()
        return {identity(f) for f in report.get("findings", [])}

    def _judged(self) -> list[Planted]:
        assert self.watcher is not None
        judge(self.watcher.json_lines(self.watcher.stdout.items), self.planted, 0)
        return self.planted


def watch_args(soak: Soak) -> list[str]:
    args = ["--format", "json", "-v", "--interval", "600"]
    for net in soak.nets:
        args += ["--network", net.name]
    return args
