"""6. The watcher: detection latency (median and worst of 20), idle CPU over 60 s, memory.

Measured by the watcher's own script, ``bench/watch_latency.py`` (owned with the watcher),
run as a process of its own: it opens its own harness session and cleans it up. Its JSON
(``bench/results/watch_latency.json``) becomes this section.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.results import Section

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "watch_latency.py"
RESULT = REPO / "bench" / "results" / "watch_latency.json"
TIMEOUT = 1800.0


def measure(runs: int, idle_seconds: float) -> Section:
    section = Section("6", "Watcher (bench/watch_latency.py)")
    if not SCRIPT.exists():
        section.skipped = f"{SCRIPT.relative_to(REPO)} is not there"
        return section
    RESULT.unlink(missing_ok=True)
    argv = [sys.executable, str(SCRIPT), "--runs", str(runs), "--idle", str(idle_seconds)]
    argv += ["--", "--settle", "0"]
    try:
        done = subprocess.run(
            argv, cwd=str(REPO), capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        section.skipped = f"watch_latency.py did not finish within {TIMEOUT:.0f} s"
        return section
    if done.returncode != 0 or not RESULT.exists():
        tail = " ".join((done.stderr or done.stdout).split())[-400:]
        section.skipped = f"watch_latency.py failed (exit {done.returncode}): {tail}"
        return section
    _report(section, json.loads(RESULT.read_text()), argv[2:])
    return section


def _report(section: Section, result: dict[str, Any], args: list[str]) -> None:
    rows = []
    for mode in ("file", "recipe"):
        for event, s in (result.get(mode) or {}).items():
            rows.append(
                (f"{mode}: {event}", f"{s['median_s']} s", f"{s['worst_s']} s", str(s["n"]))
            )
            if event == "appeared":
                how = "appended line" if mode == "file" else "vanished netns"
                section.figure(
                    f"6-{mode}",
                    f"detection latency, {mode} ({how}), median of {s['n']}",
                    float(s["median_s"]),
                    "s",
                    note=f"worst {s['worst_s']} s",
                )
    section.table("Latency (seconds)", ("measure", "median", "worst", "n"), rows)
    idle = result.get("idle") or {}
    if idle:
        section.figure(
            "6-idle",
            f"watcher CPU while idle ({idle['seconds']:.0f} s)",
            float(idle["watcher_cpu_percent"]),
            "%",
            note=f"{idle['watcher_cpu_s']} s; its private API service used "
            f"{idle['api_service_cpu_s']} s",
        )
        memory = idle.get("watcher_memory_kib") or {}
        section.figure(
            "6-rss",
            "watcher resident memory",
            memory.get("VmRSS", 0) / 1024,
            "MiB",
            note=f"peak {memory.get('VmHWM', 0) / 1024:.1f} MiB",
        )
    section.notes.append(f"Run as `python bench/watch_latency.py {' '.join(args)}`.")
    section.data = result
