"""Where a cold ``check --no-probe`` spends its time at one size, through a running API
service: wall time of the check against podman's two listings at once, and a cProfile of
the check itself (the process, from its first line to its exit).

Not a test: run by hand, as root, on a host with real podman (or in the podman 5 lane):

    .venv/bin/python bench/profile_check.py [--size 20x10] [--rounds 7]

Prints the medians and the profile's top entries by cumulative and by own time, and
writes the profile to bench/results/profile_check.prof. Everything it creates carries the
test harness's session prefix and is removed at the end.
"""

from __future__ import annotations

import argparse
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
            checks, listings, bare = [], [], []
            for _ in range(args.rounds):
                began = time.monotonic()
                done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, check=False)
                checks.append(time.monotonic() - began)
                if done.returncode not in (0, 1):  # 1: findings (README, exit codes)
                    raise SystemExit(f"check failed ({done.returncode}): {done.stderr[-300:]!r}")
                listings.append(_both_listings(socket_path))
                began = time.monotonic()
                subprocess.run([sys.executable, "-c", "pass"], check=True)
                bare.append(time.monotonic() - began)
            profiled = [sys.executable, "-m", "cProfile", "-o", str(PROFILE), *argv[1:]]
            PROFILE.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(profiled, env=env, cwd=REPO, capture_output=True, check=False)
        print(f"size {args.size}: check {_ms(checks)}, both listings at once {_ms(listings)}, "
              f"python -c pass {_ms(bare)} (medians of {args.rounds})")  # fmt: skip
        import pstats

        stats = pstats.Stats(str(PROFILE))
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
    finally:
        close_session()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
