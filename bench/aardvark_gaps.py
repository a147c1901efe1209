"""How long aardvark-dns leaves a member's questions unanswered while containers churn.

Not a test: run by hand, as root, on a host with real podman (scripts/setup-host.sh, or
in the podman 5 lane):

    .venv/bin/python bench/aardvark_gaps.py [--seconds 40]

One network with one long-lived member; beside it, containers are started and removed
on the same network, one podman action every ``--pace`` seconds (the soak's churn does
about one a second on podman 4.3.1; each start and stop makes netavark send aardvark-dns
a SIGHUP). From inside the member's namespace, ``bench/gap_prober.py`` asks
for the member's own name every 50 ms, resending each question every 100 ms until
answered (2 s at most), once from one socket and once from a new socket per copy.
Prints the unanswered stretches ("gaps") of each way and the JSON (also written to
bench/results/aardvark_gaps.json). Everything it creates carries the test harness's
session prefix and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import print_and_save  # noqa: E402
from tests.realpodman import PodmanHost, close_session, open_session  # noqa: E402
from tests.realpodman.stack import current_stack  # noqa: E402

RESULT = REPO / "bench" / "results" / "aardvark_gaps.json"
#: Churn actions at most (a bound, not the pace).
MAX_CHURN = 400


def gaps(rounds: list[list[Any]]) -> list[tuple[float, float]]:
    """Stretches (start, end) in which no round was answered within 150 ms."""
    found: list[tuple[float, float]] = []
    begun: float | None = None
    for started, answered, _copies in rounds:
        slow = answered is None or answered > 150
        if slow and begun is None:
            begun = started
        elif not slow and begun is not None:
            found.append((begun, started + answered / 1000))
            begun = None
    if begun is not None:
        found.append((begun, rounds[-1][0]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between churn actions")
    args = parser.parse_args()
    session = open_session()
    result: dict[str, Any] = {}
    try:
        host = PodmanHost(session)
        host.ensure_image()
        net = session.new_name("gaps")
        host.network_create(net)
        member = host.run(session.new_name("member"), [net])
        pid = member.pid
        stop = threading.Event()
        actions: list[int] = []

        def churn() -> None:
            while not stop.is_set() and len(actions) < MAX_CHURN:
                name = session.new_name("churn")
                host.run(name, [net])
                actions.append(1)
                stop.wait(args.pace)
                host.rm(name)
                actions.append(1)
                stop.wait(args.pace)

        churner = threading.Thread(target=churn, daemon=True)
        churner.start()
        probe = subprocess.run(
            ["nsenter", "-n", "-t", str(pid), sys.executable, "-I", "-S",
             str(REPO / "bench" / "gap_prober.py"), host.gateway(net), member.name,
             str(args.seconds)],
            capture_output=True, text=True, timeout=args.seconds + 30, check=True,
        )  # fmt: skip
        stop.set()
        churner.join(timeout=120)
        rounds = json.loads(probe.stdout)
        stack = current_stack()
        result = {
            "stack": {"label": stack.label, "aardvark": ".".join(map(str, stack.aardvark))},
            "seconds": args.seconds,
            "pace_s": args.pace,
            "churn_actions": sum(actions),
        }
        for way, way_rounds in rounds.items():
            way_gaps = gaps(way_rounds)
            result[way] = {
                "rounds": len(way_rounds),
                "answered_within_150ms": sum(
                    1 for r in way_rounds if r[1] is not None and r[1] <= 150
                ),
                "answered_later": sum(1 for r in way_rounds if r[1] is not None and r[1] > 150),
                "unanswered": sum(1 for r in way_rounds if r[1] is None),
                "gaps_s": [[round(a, 2), round(b, 2)] for a, b in way_gaps],
                "gap_total_s": round(sum(b - a for a, b in way_gaps), 2),
            }
            got = result[way]
            print(
                f"{way:5}: {got['rounds']} rounds, {got['answered_within_150ms']} answered "
                f"within 150 ms, {got['answered_later']} later, {got['unanswered']} not in 2 s; "
                f"gaps {got['gaps_s']} (total {got['gap_total_s']} s of {args.seconds:g})",
                file=sys.stderr,
            )
    finally:
        close_session()
    print_and_save(result, RESULT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
