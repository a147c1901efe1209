"""7. The churn soak: false alarms, missed stale lines, detection latency, resources.

Measured by ``bench/soak.py`` (owned with the watcher), run as a process of its own: it
opens its own harness session and cleans it up. Its JSON (``bench/results/soak.json``)
becomes this section. ``minutes`` of churn (30 in the full run, 3 in ``--quick``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.results import Section

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "soak.py"
RESULT = REPO / "bench" / "results" / "soak.json"


def measure(minutes: float) -> Section:
    section = Section("7", f"Churn soak, {minutes:g} min (bench/soak.py)")
    RESULT.unlink(missing_ok=True)
    argv = [sys.executable, str(SCRIPT), "--minutes", f"{minutes:g}"]
    timeout = minutes * 60 + 600  # the churn, then the bounded waits and the cleanup
    try:
        done = subprocess.run(
            argv, cwd=str(REPO), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        section.skipped = f"soak.py did not finish within {timeout:.0f} s"
        return section
    if done.returncode != 0 or not RESULT.exists():
        tail = " ".join((done.stderr or done.stdout).split())[-400:]
        section.skipped = f"soak.py failed (exit {done.returncode}): {tail}"
        return section
    _report(section, json.loads(RESULT.read_text()), argv[2:])
    return section


def _report(section: Section, result: dict[str, Any], args: list[str]) -> None:
    alarms = result.get("false_alarms") or {}
    section.figure("7-false", "false alarms (all kinds)", float(sum(alarms.values())), "")
    section.figure("7-missed", "missed stale lines", float(len(result.get("missed") or [])), "")
    latency = result.get("latency_s") or {}
    if latency.get("n"):
        section.figure(
            "7-latency",
            f"detection latency, p95 of {latency['n']}",
            float(latency["p95"]),
            "s",
            note=f"median {latency['median']} s, worst {latency['worst']} s",
        )
    fds, rss = result.get("fds") or {}, result.get("rss_kib") or {}
    rows = [
        ("actions", ", ".join(f"{k} {v}" for k, v in (result.get("actions") or {}).items())),
        ("false alarms by kind", json.dumps(alarms) if alarms else "none"),
        (
            "problems the churn made (confirmed cold)",
            json.dumps(result.get("real_problems_made_by_churn") or {}),
        ),
        ("planted / missed", f"{result.get('planted')} / {len(result.get('missed') or [])}"),
        (
            "watcher fds, first / last third (max)",
            f"{fds.get('first')} / {fds.get('last')} ({fds.get('max')})",
        ),
        ("watcher RSS KiB, first / last third", f"{rss.get('first')} / {rss.get('last')}"),
        ("watcher CPU", f"{result.get('cpu_percent')} %"),
        ("namespaces pinned at the end", str(len(result.get("pinned") or []))),
    ]
    section.table("Soak", ("measure", "value"), rows)
    section.notes.append(f"Run as `python bench/soak.py {' '.join(args)}`.")
    section.data = result
