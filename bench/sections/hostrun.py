"""The measurements taken on the real host at each size, shared by sections 1, 2 and 3.

At each size every variant runs once per round, alternating (``timing.alternate``):

- ``podman listing``: ``podman ps -a --format json`` then ``podman network ls --format json``
- ``check --no-probe`` and ``check`` (with the probe), each against a running API service
  (``--url``) and with none (aardcheck starts its private ``podman system service``)
- ``manual``: the listing, reading each aardvark file, then ``podman exec MEMBER nslookup
  NAME`` for every container name and alias of every network
- the same ``check`` variants of the baseline revision, when one is measured
- the floor of a cold check through the API service: ``python -c pass``, and podman's two
  container listings asked at once from a running service (the check needs both: the
  compatible one alone has per-network addresses and aliases, the libpod one alone pids
  and pods), in this process - no cold check can take less than the two added
- the floor of a cold check without a system socket: ``python -c pass``, and a private
  service started, asked both listings at once and stopped, in this process

``anatomy`` takes the private service and the API apart once: how fast it listens and
answers, what each request costs, how long SIGTERM takes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.baseline import REPO, Baseline
from bench.scenario import Scenario
from bench.timing import Sample, Series, alternate, run_timed, time_block
from bench.unix_http import UnixHttp

#: Variants by label; the labels are the report's.
LISTING = "podman ps -a + podman network ls"
MANUAL = "manual: listing, files, podman exec nslookup per name"
CHECK_FAST_API = "aardcheck check --no-probe (API service)"
CHECK_FAST_PRIVATE = "aardcheck check --no-probe (private service)"
CHECK_FULL_API = "aardcheck check (API service)"
CHECK_FULL_PRIVATE = "aardcheck check (private service)"
CHECK_FAST_WATCHER = "aardcheck check --no-probe (answered by a watcher)"
PYTHON_START = "python -c pass"
BOTH_LISTINGS = "API: both container listings at once"
PRIVATE_LISTINGS = "private service: started, both container listings at once, stopped"
#: How long a freshly started watcher may take to answer its first check.
WATCHER_READY_TIMEOUT = 120.0
BEFORE = "before: "


@dataclass
class Step:
    """Everything measured at one size."""

    networks: int
    per_network: int
    series: dict[str, Series]
    #: The check's own JSON (last run of each check variant): requests, probes, findings.
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    manual_lookups: int = 0
    manual_failures: int = 0
    #: runs of the watcher variant it answered (the others computed cold)
    watcher_answered: int = 0

    @property
    def label(self) -> str:
        return f"{self.networks}x{self.per_network}"

    @property
    def containers(self) -> int:
        return self.networks * self.per_network


def _manual(scenario: Scenario, failures: list[int]) -> Sample:
    host = scenario.host

    def procedure() -> None:
        host.podman("ps", "-a", "--format", "json")
        host.podman("network", "ls", "--format", "json")
        for net in scenario.networks:
            host.exec("cat", str(host.aardvark_file(net.name)))
            member = net.members[0].name
            for name in net.user_names():
                done = host.podman("exec", member, "nslookup", name, check=False, timeout=60)
                failures.append(done.returncode)

    return time_block(procedure)


def _listing(scenario: Scenario) -> Sample:
    host = scenario.host
    return time_block(
        lambda: (
            host.podman("ps", "-a", "--format", "json"),
            host.podman("network", "ls", "--format", "json"),
        )
    )


def _both_listings(socket_path: str) -> Sample:
    """The two container listings a check makes, asked at once as the check asks them."""

    def one(target: str) -> None:
        client = UnixHttp(socket_path, 60)
        try:
            client.request("GET", target)
        finally:
            client.close()

    def both() -> None:
        other = threading.Thread(target=one, args=(ENDPOINTS["GET /containers/json (compat)"],))
        other.start()
        one(ENDPOINTS["GET /containers/json (libpod)"])
        other.join()

    return time_block(both)


def measure_step(
    scenario: Scenario,
    url: str,
    rounds: int,
    baseline: Baseline | None,
    *,
    manual: bool = True,
) -> Step:
    trees = {"": REPO} | ({BEFORE: baseline.tree} if baseline else {})

    def check(tree: Path, probe: bool, service: str | None) -> Callable[[], Sample]:
        args = ["check", "--format", "json"] + ([] if probe else ["--no-probe"])
        if service:
            args += ["--url", service]
        if tree == REPO:
            args += ["--no-watcher"]  # cold, whatever watcher runs on this host
        argv = scenario.aardcheck_argv(*args)
        env = scenario.aardcheck_env(service, tree)
        return lambda: run_timed(argv, env=env, cwd=str(tree))

    variants: dict[str, Callable[[], Sample]] = {LISTING: lambda: _listing(scenario)}
    python = [sys.executable, "-c", "pass"]
    python_env = scenario.aardcheck_env(url)
    variants[PYTHON_START] = lambda: run_timed(python, env=python_env, cwd=str(REPO))
    variants[BOTH_LISTINGS] = lambda: _both_listings(url.removeprefix("unix://"))
    service_env = scenario.host.process_env()
    variants[PRIVATE_LISTINGS] = lambda: _private_listings(service_env)
    for prefix, tree in trees.items():
        variants[prefix + CHECK_FAST_API] = check(tree, False, url)
        variants[prefix + CHECK_FAST_PRIVATE] = check(tree, False, None)
        if not prefix:
            variants[CHECK_FULL_API] = check(tree, True, url)
            variants[CHECK_FULL_PRIVATE] = check(tree, True, None)
    codes: list[int] = []
    if manual:
        variants[MANUAL] = lambda: _manual(scenario, codes)
    with _watcher(scenario) as warm:
        variants[CHECK_FAST_WATCHER] = warm
        series = alternate(variants, rounds)
    n, m = scenario.shape
    step = Step(n, m, series)
    step.watcher_answered = sum(1 for x in series[CHECK_FAST_WATCHER].samples if _answered(x))
    for label, s in series.items():
        if label.startswith((BEFORE, "aardcheck")) and s.samples:
            try:
                step.reports[label] = json.loads(s.samples[-1].stdout)
            except ValueError:
                step.reports[label] = {"error": s.samples[-1].stderr.strip()[-500:]}
    step.manual_lookups = len(codes)
    step.manual_failures = sum(1 for c in codes if c != 0)
    return step


def _answered(sample: Sample) -> bool:
    try:
        return "served_by" in json.loads(sample.stdout)
    except ValueError:
        return False


@contextlib.contextmanager
def _watcher(scenario: Scenario) -> Iterator[Callable[[], Sample]]:
    """``aardcheck watch`` on the bench's networks, answering on a socket of its own; yields
    the timed ``check --no-probe`` that asks it (the same command a user types)."""
    socket_dir = Path(tempfile.mkdtemp(prefix="aardbench-watch-"))
    env = scenario.aardcheck_env(None) | {"AARDCHECK_ANSWER_SOCKET": str(socket_dir / "w.sock")}
    argv = scenario.aardcheck_argv("check", "--format", "json", "--no-probe")
    proc = subprocess.Popen(
        scenario.aardcheck_argv("watch", "--interval", "3600"),
        env=env,
        cwd=str(REPO),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + WATCHER_READY_TIMEOUT
        while not _answered(run_timed(argv, env=env, cwd=str(REPO))):
            if proc.poll() is not None or time.monotonic() > deadline:
                break  # measured anyway: the report counts the runs it answered
            time.sleep(0.5)
        yield lambda: run_timed(argv, env=env, cwd=str(REPO))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        shutil.rmtree(socket_dir, ignore_errors=True)


def used_private_service(report: dict[str, Any]) -> bool | None:
    host = report.get("host")
    return bool(host.get("private_api")) if isinstance(host, dict) else None


# --------------------------------------------------------------------------- anatomy


@dataclass
class Anatomy:
    """Median milliseconds of each part of talking to podman's API."""

    requests: dict[str, float]
    service: dict[str, float]


ENDPOINTS = {
    "GET /_ping": "/v4.0.0/libpod/_ping",
    "GET /info": "/v4.0.0/libpod/info",
    "GET /containers/json (libpod)": "/v4.0.0/libpod/containers/json?all=true",
    "GET /containers/json (compat)": "/v1.40/containers/json?all=true",
    "GET /networks/json": "/v4.0.0/libpod/networks/json",
}


def _requests(socket_path: str, rounds: int) -> dict[str, float]:
    client = UnixHttp(socket_path, 60)
    spent: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    try:
        for _ in range(rounds):
            for name, target in ENDPOINTS.items():
                started = time.perf_counter()
                client.request("GET", target)
                spent[name].append(time.perf_counter() - started)
    finally:
        client.close()
    return {name: statistics.median(v) * 1000 for name, v in spent.items()}


@contextlib.contextmanager
def _service(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A service started like aardcheck's private one, on a socket of its own; gone after."""
    directory = Path(tempfile.mkdtemp(prefix="aardbench-svc-"))
    sock = directory / "podman.sock"
    proc = subprocess.Popen(
        ["podman", "system", "service", "--time=120", f"unix://{sock}"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc, sock
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        sock.unlink(missing_ok=True)
        directory.rmdir()


def _listening(proc: subprocess.Popen[bytes], sock: Path, poll: float) -> None:
    deadline = time.monotonic() + 30
    while not sock.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(poll)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _private_listings(env: dict[str, str]) -> Sample:
    """What a check without a system socket cannot avoid: a private service started, its
    socket waited for (5 ms polls, as aardcheck's), both container listings at once, and
    the service stopped."""

    def block() -> None:
        with _service(env) as (proc, sock):
            _listening(proc, sock, 0.005)
            _both_listings(str(sock))
            _stop(proc)

    return time_block(block)


def _service_once(env: dict[str, str]) -> dict[str, float]:
    """Start a service like aardcheck's private one; time each phase until it is gone."""
    marks: dict[str, float] = {}
    started = time.perf_counter()
    with _service(env) as (proc, sock):
        _listening(proc, sock, 0.002)
        marks["socket appears"] = time.perf_counter() - started
        client = UnixHttp(str(sock), 30)
        before = time.perf_counter()
        client.request("GET", ENDPOINTS["GET /_ping"])
        marks["first /_ping answered"] = time.perf_counter() - started
        marks["(first /_ping itself)"] = time.perf_counter() - before
        before = time.perf_counter()
        client.request("GET", ENDPOINTS["GET /info"])
        marks["(first /info itself)"] = time.perf_counter() - before
        client.close()
        before = time.perf_counter()
        _stop(proc)
        marks["SIGTERM to exit"] = time.perf_counter() - before
    return marks


def anatomy(scenario: Scenario, url: str, rounds: int) -> Anatomy:
    socket_path = url.removeprefix("unix://")
    requests = _requests(socket_path, rounds)
    env = scenario.host.process_env()
    runs = [_service_once(env) for _ in range(rounds)]
    service = {k: statistics.median(r[k] for r in runs) * 1000 for k in runs[0]}
    return Anatomy(requests, service)
