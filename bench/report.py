"""The report: one markdown document and one JSON document. Pure: results in, text out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from bench.results import Section

SCHEMA = "aardcheck.bench/1"

METHOD = """\
- Every aardcheck run is a new process (a cold Python), started the way a user starts it
  (`python -m aardcheck ...`, the working tree's code).
- Variants of one comparison run in alternating rounds: each round runs every variant once,
  the order rotating from round to round; one untimed warm-up run of each variant comes
  first. A ratio is the **median of the per-round ratios**, so machine-wide drift (other
  jobs on the 2 shared cores) hits both sides of each ratio alike. Times are medians.
- CPU is user + system of the measured process and the children it waited for (a private
  `podman system service` started by aardcheck counts; a service already running does not).
- The scenario is built on real podman with the test harness (`tests/realpodman`): every
  network and container carries a unique prefix and is removed at the end, also on failure
  or Ctrl-C. Only the bench's own networks are checked (`--network`) and probed.
"""


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(run: dict[str, Any], sections: Sequence[Section]) -> str:
    machine = run["machine"]
    versions = machine["versions"]
    out = [
        "# aardcheck benchmarks",
        "",
        f"Measured {run['started']} with `{run['command']}` "
        f"({'quick' if run['quick'] else 'full'} mode, {run['duration_s']:.0f} s).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_mib']} MiB, "
        f"{machine['distribution']}, kernel {machine['kernel']}; load average "
        f"{' / '.join(str(x) for x in machine['load_average_at_start'])} at start, "
        f"{' / '.join(str(x) for x in run['load_average_at_end'])} at the end. "
        f"Yardstick: a 10-million-step Python loop takes "
        f"{machine['python_loop_10m_cpu_s']} s CPU here.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        "## Figures",
        "",
    ]
    rows = []
    for section in sections:
        if section.skipped:
            rows.append((section.key, section.title, "skipped", "", section.skipped))
        for f in section.figures:
            rows.append((f.key, f.measure, f.shown(), f.target, f.verdict()))
    out += _table(("#", "measure", "figure", "target", "verdict"), rows)
    out += ["", "## Method", "", METHOD]
    for section in sections:
        out += [f"## {section.key}. {section.title}", ""]
        if section.skipped:
            out += [f"Skipped: {section.skipped}", ""]
            continue
        for table in section.tables:
            out += [f"**{table.title}**", ""]
            out += _table(table.header, table.rows)
            out.append("")
        for note in section.notes:
            out += [f"- {note}"]
        if section.notes:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_json(run: dict[str, Any], sections: Sequence[Section]) -> str:
    doc = {
        "schema": SCHEMA,
        **run,
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "skipped": s.skipped or None,
                "figures": [asdict(f) for f in s.figures],
                "tables": [asdict(t) for t in s.tables],
                "notes": s.notes,
                "data": s.data,
            }
            for s in sections
        ],
    }
    return json.dumps(doc, indent=1, default=str) + "\n"
