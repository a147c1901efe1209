"""The churn soak, long: ``tests/soak/churn.py`` for ``--minutes`` under one watcher.

Not a test: run by hand, as root, on a host with real podman, or through
``python -m bench --only soak``:

    .venv/bin/python bench/soak.py [--minutes 30] [--rootless] [--seed 13]

Counts false alarms by kind, missed stale lines, detection latency (median, p95, worst:
from the end of the natural recipe to the watcher's ``appeared`` line), watcher RSS, CPU
and open fds over time (first-third and last-third medians), and container namespaces
still referenced by the watcher's processes at the end. Prints and writes the JSON
(bench/results/soak.json). Everything it creates carries the harness's session prefix
and is removed at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import print_and_save  # noqa: E402
from tests.realpodman import PodmanHost, close_session, open_session  # noqa: E402
from tests.realpodman.stack import current_stack  # noqa: E402
from tests.soak.churn import Soak, SoakPlan, watch_args  # noqa: E402
from tests.watch.process import WatchProcess  # noqa: E402

RESULT = REPO / "bench" / "results" / "soak.json"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rootless", action="store_true", help="as the harness's rootless user")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--show-log", action="store_true", help="print the watcher's stderr")
    args = parser.parse_args()
    plan = SoakPlan(
        networks=4,
        members=3,
        seconds=args.minutes * 60,
        # a bound, not the pace: the soak must last its minutes. podman 5 did ~2 actions
        # a second on a long-used machine and ~5 on a fresh one, where a cap of 4 a
        # second ended a 60-minute run (P8) after 50; a cap of 1 had ended one after 17
        max_actions=int(args.minutes * 60 * 20),
        plant_every=30.0,
        recreate_every=90.0,
        sample_every=5.0,
        seed=args.seed,
    )
    session = open_session()
    watcher: WatchProcess | None = None
    result: dict[str, Any] = {}
    try:
        host = PodmanHost(session)
        if args.rootless:
            from tests.realpodman import create_user

            host = PodmanHost(session, create_user(session))
        host.ensure_image()
        soak = Soak(host, plan, _say)
        watcher = WatchProcess(host, *watch_args(soak))
        watcher.wait_ready()
        result = soak.run(watcher)
        result["plan"] = {"minutes": args.minutes, **plan.__dict__}
        stack = current_stack()
        result["stack"] = {
            "label": stack.label,
            "podman": ".".join(map(str, stack.podman)),
            "aardvark": ".".join(map(str, stack.aardvark)),
        }
        result["rootless"] = args.rootless
    finally:
        if watcher is not None:
            watcher.kill()
            if args.show_log:  # every line with its arrival, seconds after the start
                t0 = watcher.started
                for stream in (watcher.stderr, watcher.stdout):
                    for at, line in stream.items:
                        _say(f"{at - t0:8.2f} {line}")
        close_session()
    print_and_save(result, RESULT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
