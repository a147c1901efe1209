"""``python -m bench``: build the scenario, measure every section, clean up, write the report."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import machine, report
from bench.baseline import DEFAULT_REV, Baseline, check_out
from bench.results import Section

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("startup", "parser", "host", "watcher", "soak")
#: (networks, containers per network, rounds, with the manual procedure)
FULL_LADDER = ((5, 4, 5, True), (10, 4, 5, False), (10, 10, 3, True), (20, 10, 3, True))
QUICK_LADDER = ((5, 4, 3, True),)


def _arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark aardcheck on real podman; writes a markdown and a JSON report.",
    )
    parser.add_argument("--quick", action="store_true", help="5x4 only, fewer rounds (~5 min)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of: {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds per comparison")
    parser.add_argument(
        "--sizes",
        default=None,
        help="comma-separated NxM host sizes of the full ladder to measure (e.g. 5x4,20x10); "
        "the ladder grows in its own order",
    )
    parser.add_argument(
        "--baseline",
        default=DEFAULT_REV,
        help=f"git revision measured beside the working tree (default {DEFAULT_REV}: before "
        "issue 12's work); 'none' to skip",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    return args


@contextlib.contextmanager
def _baseline(rev: str, notes: list[str]) -> Iterator[Baseline | None]:
    if rev.lower() == "none":
        yield None
        return
    found, why = check_out(rev)
    if found is None:
        notes.append(f"no before/after: {why}")
    try:
        yield found
    finally:
        if found is not None:
            found.remove()


def _host_sections(args: argparse.Namespace, baseline: Baseline | None) -> list[Section]:
    """Sections 1-3 on real podman: build, measure at each size, always clean up."""
    from bench.scenario import Scenario
    from bench.sections import growth, hostrun, listing, manual
    from tests.realpodman import PodmanHost, close_session, open_session, podman_unavailable_reason

    reason = podman_unavailable_reason()
    if reason:
        skipped = []
        for key, title in (("1", "listing"), ("2", "manual"), ("3", "growth")):
            skipped.append(Section(key, title, skipped=f"real podman unavailable: {reason}"))
        return skipped
    session = open_session()
    try:
        host = PodmanHost(session)
        scenario = Scenario(host)
        steps = []
        anatomies: dict[str, hostrun.Anatomy] = {}
        with host.api_service() as url:
            for networks, per_network, rounds, with_manual in _ladder(args):
                _say(f"host: growing to {networks} x {per_network}")
                scenario.grow(networks, per_network)
                _say(f"host: measuring {networks} x {per_network} ({args.rounds or rounds} rounds)")
                steps.append(
                    hostrun.measure_step(
                        scenario, url, args.rounds or rounds, baseline, manual=with_manual
                    )
                )
                # at every size: the listings grow with the containers, the service not
                anatomies[steps[-1].label] = hostrun.anatomy(scenario, url, 3 if args.quick else 7)
        sections = [listing.build(steps, anatomies), manual.build(steps), growth.build(steps)]
        sections[2].notes.append(f"Building the scenario took {scenario.build_seconds:.0f} s.")
        return sections
    finally:
        _say("host: removing everything the bench made")
        for problem in close_session():
            _say(f"cleanup problem: {problem}")


def _ladder(args: argparse.Namespace) -> tuple[tuple[int, int, int, bool], ...]:
    if args.sizes is None:
        return QUICK_LADDER if args.quick else FULL_LADDER
    wanted = set(args.sizes.split(","))
    return tuple(step for step in FULL_LADDER if f"{step[0]}x{step[1]}" in wanted)


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    wanted = args.only.split(",")
    started = time.monotonic()
    run: dict[str, object] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "machine": machine.describe(),
    }
    notes: list[str] = []
    sections: list[Section] = []
    try:
        with _baseline(args.baseline, notes) as baseline:
            if "startup" in wanted:
                from bench.sections import startup

                _say("startup")
                sections.append(startup.measure(args.rounds or (7 if args.quick else 15), baseline))
            if "parser" in wanted:
                from bench.sections import parser

                _say("parser")
                sections.append(parser.measure(args.rounds or (3 if args.quick else 7), baseline))
            if "host" in wanted:
                sections.extend(_host_sections(args, baseline))
        if "watcher" in wanted:
            from bench.sections import watcher

            _say("watcher (bench/watch_latency.py)")
            sections.append(watcher.measure(5 if args.quick else 20, 15 if args.quick else 60))
        if "soak" in wanted:
            from bench.sections import soak

            _say("soak (bench/soak.py)")
            sections.append(soak.measure(3.0 if args.quick else 30.0))
    except KeyboardInterrupt:
        _say("interrupted; nothing written")
        return 130
    run["duration_s"] = round(time.monotonic() - started, 1)
    run["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    run["baseline"] = args.baseline
    run["notes"] = notes
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "report-quick" if args.quick else "report"
    (args.out / f"{stem}.md").write_text(report.render_markdown(run, sections))
    (args.out / f"{stem}.json").write_text(report.render_json(run, sections))
    _say(f"wrote {args.out / stem}.md and .json")
    print(report.render_markdown(run, sections))
    return 0
