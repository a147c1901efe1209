"""Where a cold ``check --no-probe`` spends its time at one size, through a running API
service: wall time of the check against podman's two listings at once, and a cProfile of
the check itself (the process, from its first line to its exit).

It also adds up the CPU each part burns - the check's process, the API service while it
answers, the CLI pair (``podman ps -a`` + ``podman network ls``) - because on a machine
with few cores what podman and the check burn together bounds the wall time from below:
no check can take less than (podman's CPU for both listings + Python's start) / cores.

Not a test: run by hand, as root, on a host with real podman (or in the podman 5 lane):

    .venv/bin/python bench/profile_check.py [--size 20x10] [--rounds 7]

Prints the medians and the profile's top entries by cumulative and by own time, and
writes the profile to bench/results/profile_check.prof. Everything it creates carries the
test harness's session prefix and is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scenario import Scenario  # noqa: E402
from bench.unix_http import UnixHttp  # noqa: E402
from tests.realpodman import PodmanHost, close_session, open_session  # noqa: E402

PROFILE = REPO / "bench" / "results" / "profile_check.prof"


def _get(socket_path: str, target: str) -> None:
    client = UnixHttp(socket_path, 60)
    try:
        client.request("GET", target)
    finally:
        client.close()


def _both_listings(socket_path: str) -> float:
    """Seconds for podman's libpod and compatible container listings asked at once."""
    began = time.monotonic()
    targets = ("/v4.0.0/libpod/containers/json?all=true", "/v1.40/containers/json?all=true")
    threads = [threading.Thread(target=_get, args=(socket_path, t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - began


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.0f} ms"


def _service_pid(socket_path: str) -> int:
    """The ``podman system service`` listening on ``socket_path`` (by its command line)."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"service" in argv and any(socket_path.encode() in a for a in argv):
                return int(entry.name)
    raise SystemExit(f"no podman service found for {socket_path}")


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Timed:
    """Wall time, the API service's CPU and our children's CPU over one step."""

    def __init__(self, service_pid: int) -> None:
        self.service_pid = service_pid
        self.wall: list[float] = []
        self.service: list[float] = []
        self.own: list[float] = []

    def __enter__(self) -> Timed:
        self._began = (time.monotonic(), _cpu_of(self.service_pid), _children_cpu())
        return self

    def __exit__(self, *_: object) -> None:
        wall, service, own = self._began
        self.wall.append(time.monotonic() - wall)
        self.service.append(_cpu_of(self.service_pid) - service)
        self.own.append(_children_cpu() - own)

    def line(self, what: str) -> str:
        return (
            f"  {what:<34} wall {_ms(self.wall):>7}, CPU: own {_ms(self.own):>7}, "
            f"API service {_ms(self.service):>7}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="20x10")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    networks, per = (int(n) for n in args.size.split("x"))
    session = open_session()
    try:
        host = PodmanHost(session)
        scenario = Scenario(host)
        scenario.grow(networks, per)
        with host.api_service() as url:
            env = scenario.aardcheck_env(url)
            argv = scenario.aardcheck_argv(
                "check", "--no-probe", "--format", "json", "--no-watcher", "--url", url
            )
            socket_path = url.removeprefix("unix://")
            service_pid = _service_pid(socket_path)
            check, listings, bare, pair = (Timed(service_pid) for _ in range(4))
            pair_env = host.process_env()
            pair_argv = [
                host.command(["podman", "ps", "-a", "--format", "json"]),
                host.command(["podman", "network", "ls", "--format", "json"]),
            ]
            for _ in range(args.rounds):
                with check:
                    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, check=False)
                if done.returncode not in (0, 1):  # 1: findings (README, exit codes)
                    raise SystemExit(f"check failed ({done.returncode}): {done.stderr[-300:]!r}")
                with listings:
                    _both_listings(socket_path)
                with bare:
                    subprocess.run([sys.executable, "-c", "pass"], check=True)
                with pair:
                    for command in pair_argv:
                        subprocess.run(command, env=pair_env, capture_output=True, check=True)
            profiled = [sys.executable, "-m", "cProfile", "-o", str(PROFILE), *argv[1:]]
            PROFILE.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(profiled, env=env, cwd=REPO, capture_output=True, check=False)
        cores = len(os.sched_getaffinity(0))
        median = statistics.median
        cpu_floor = (median(listings.service) + median(bare.own)) / cores
        target = 2.0 * median(pair.wall)
        print(f"size {args.size}, medians of {args.rounds}, {cores} cores:")
        print(check.line("cold check --no-probe --url"))
        print(listings.line("both listings at once"))
        print(bare.line("python -c pass"))
        print(pair.line("CLI pair"))
        wall_floor = median(listings.wall) + median(bare.wall)
        print(
            f"  floors: wall (listings + python) {wall_floor * 1000:.0f} ms, "
            f"CPU (listings' + python's CPU over {cores} cores) {cpu_floor * 1000:.0f} ms; "
            f"target 2.0x the pair {target * 1000:.0f} ms; "
            f"check {median(check.wall) / median(pair.wall):.2f}x the pair"
        )
        import pstats

        stats = pstats.Stats(str(PROFILE))
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
    finally:
        close_session()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
