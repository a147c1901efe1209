"""How fast ``aardcheck watch`` notices a stale line, and what it costs while idle.

Not a test: run by hand, as root, on a host with real podman (scripts/setup-host.sh):

    .venv/bin/python bench/watch_latency.py [--runs 20] [--idle 60] [-- WATCH ARGS...]

Measures, against one watcher (``--format json --network NET`` plus WATCH ARGS):

- file: a line of a container podman never had is appended to NET's aardvark file
  (under netavark's ``aardvark.lock``, as netavark appends); latency = from the write to
  the ``appeared`` JSON line on the watcher's stdout; then the line is removed again and
  the ``resolved`` latency is measured the same way;
- recipe: the natural stale entry (a container's netns vanishes, ``podman rm -f``);
  latency = from the moment ``podman rm`` has removed the container to ``appeared``;
- idle: CPU seconds of the watcher (and separately of the private podman API service it
  started) over ``--idle`` seconds with nothing happening on its network; resident memory.

Prints a markdown table and the JSON document (also written to bench/results/).
Everything it creates carries the test harness's session prefix and is removed at the end.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import print_and_save  # noqa: E402
from tests.realpodman import PodmanHost, close_session, open_session, run_aardcheck  # noqa: E402
from tests.watch.process import WatchProcess  # noqa: E402
from tests.watch.stale import plant_dead_stale  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WAIT = 120.0


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_kib(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median_s": round(statistics.median(values), 3),
        "worst_s": round(max(values), 3),
        "best_s": round(min(values), 3),
    }


def appeared_at(watcher: WatchProcess, container_id: str, event: str = "appeared") -> float:
    at, _ = watcher.wait_json(
        lambda d: (
            d.get("event") == event and d.get("finding", {}).get("container_id") == container_id
        ),
        timeout=WAIT,
    )
    return at


def edit_under_lock(host: PodmanHost, network: str, change: Callable[[str], str]) -> float:
    """Rewrite NET's file with netavark's flock held; returns the monotonic time after."""
    lock = os.open(host.network_run_dir / "aardvark.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        target = host.aardvark_file(network)
        new = change(target.read_text())
        tmp = host.network_run_dir / f".{target.name}.bench"  # not inside aardvark-dns/
        tmp.write_text(new)
        os.replace(tmp, target)
        return time.monotonic()
    finally:
        os.close(lock)


def file_runs(host: PodmanHost, watcher: WatchProcess, net: str, runs: int) -> dict[str, Any]:
    subnet_prefix = host.gateway(net).rsplit(".", 1)[0]
    appear, resolve = [], []
    for i in range(runs):
        ghost = secrets.token_hex(32)
        line = f"{ghost} {subnet_prefix}.{200 + i}  bench-ghost{i},{ghost[:12]}\n"
        written = edit_under_lock(host, net, lambda text, ln=line: text + ln)
        appear.append(appeared_at(watcher, ghost) - written)
        removed = edit_under_lock(
            host,
            net,
            lambda text, g=ghost: "".join(
                ln for ln in text.splitlines(keepends=True) if not ln.startswith(g)
            ),
        )
        resolve.append(appeared_at(watcher, ghost, "resolved") - removed)
    return {"appeared": summary(appear), "resolved": summary(resolve)}


def recipe_runs(host: PodmanHost, watcher: WatchProcess, net: str, runs: int) -> dict[str, Any]:
    latencies = []
    for _ in range(runs):
        doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
        stale = plant_dead_stale(host, doomed.name)
        gone = time.monotonic()
        latencies.append(appeared_at(watcher, stale.container_id) - gone)
        for _ in range(3):  # a busy shared host may fail one listing (exit 3)
            fixed = run_aardcheck("fix", "--yes", "--no-probe", "--network", net, host=host)
            if fixed.returncode in (0, 1):
                break
        appeared_at(watcher, stale.container_id, "resolved")
    return {"appeared": summary(latencies)}


def idle(watcher: WatchProcess, seconds: float) -> dict[str, Any]:
    pid = watcher.watcher_pid()
    children = watcher.children()
    checks_before = sum("check #" in line for _, line in watcher.stderr.items)
    own0, kids0 = cpu_seconds(pid), sum(cpu_seconds(c) for c in children)
    time.sleep(seconds)  # the measurement itself: nothing may happen meanwhile
    own1, kids1 = cpu_seconds(pid), sum(cpu_seconds(c) for c in children)
    checks = sum("check #" in line for _, line in watcher.stderr.items) - checks_before
    return {
        "seconds": seconds,
        "watcher_cpu_s": round(own1 - own0, 3),
        "watcher_cpu_percent": round(100 * (own1 - own0) / seconds, 3),
        "api_service_cpu_s": round(kids1 - kids0, 3),
        "checks_while_idle": checks,
        "watcher_memory_kib": memory_kib(pid),
        "api_service_memory_kib": {str(c): memory_kib(c) for c in children},
    }


def table(result: dict[str, Any]) -> str:
    rows = ["| measure | median | worst | n |", "|---|---|---|---|"]
    for mode in ("file", "recipe"):
        for event, s in result.get(mode, {}).items():
            rows.append(f"| {mode}: {event} | {s['median_s']} s | {s['worst_s']} s | {s['n']} |")
    idle_ = result["idle"]
    rows.append(
        f"| idle CPU, watcher ({idle_['seconds']:.0f} s) | {idle_['watcher_cpu_s']} s "
        f"({idle_['watcher_cpu_percent']} %) | | |"
    )
    rows.append(f"| idle CPU, private API service | {idle_['api_service_cpu_s']} s | | |")
    rows.append(f"| checks while idle | {idle_['checks_while_idle']} | | |")
    mem = idle_["watcher_memory_kib"]
    rows.append(
        f"| watcher RSS / peak | {mem.get('VmRSS', 0) / 1024:.1f} MiB / "
        f"{mem.get('VmHWM', 0) / 1024:.1f} MiB | | |"
    )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--recipe-runs", type=int, default=None, help="default: --runs")
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--show-log", action="store_true", help="print the watcher's stderr")
    parser.add_argument("watch_args", nargs="*", help="extra `aardcheck watch` options")
    args = parser.parse_args()
    session = open_session()
    watcher: WatchProcess | None = None
    try:
        host = PodmanHost(session)
        host.ensure_image()
        net = host.network_create(session.new_name("bench"))
        host.run(session.new_name("live"), {net: ["app"]})
        watcher = WatchProcess(host, "--format", "json", "--network", net, "-v", *args.watch_args)
        watcher.wait_ready()
        result: dict[str, Any] = {
            "watch_args": ["--format", "json", "--network", "NET", *args.watch_args],
            "file": file_runs(host, watcher, net, args.runs),
            "recipe": recipe_runs(host, watcher, net, args.recipe_runs or args.runs),
        }
        result["idle"] = idle(watcher, args.idle)
    finally:
        if watcher is not None:
            watcher.kill()
            if args.show_log:
                print(watcher.output(), file=sys.stderr)
        close_session()
    print(table(result))
    print()
    print_and_save(result, REPO / "bench" / "results" / "watch_latency.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
