"""3. Growth: wall time and podman API requests as networks (N) and containers (M) grow.

Expected: the number of requests does not depend on N or M (one list call per kind of
object, never one per container); the probe runs concurrently, so its time grows with
the slowest network, not with the number of names asked.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any

from bench.results import Section, ms
from bench.sections.hostrun import (
    CHECK_FAST_API,
    CHECK_FAST_PRIVATE,
    CHECK_FULL_API,
    CHECK_FULL_PRIVATE,
    Step,
)
from bench.timing import Series, paired_differences


def _requests(report: dict[str, Any]) -> int | None:
    checked = report.get("checked")
    return checked.get("api_requests") if isinstance(checked, dict) else None


def _questions(report: dict[str, Any]) -> int:
    probes = report.get("probes") or []
    return sum(len(p.get("tries") or []) for p in probes)


def _duration(report: dict[str, Any]) -> float:
    checked = report.get("checked")
    value = checked.get("duration_s") if isinstance(checked, dict) else None
    return float(value) if isinstance(value, int | float) else float("nan")


def _in_process(series: Series) -> list[float]:
    """The check's own ``duration_s`` of every run (gather + analyse, no interpreter start)."""
    found = []
    for sample in series.samples:
        try:
            found.append(_duration(json.loads(sample.stdout)))
        except ValueError:
            found.append(float("nan"))
    return found


def _names(report: dict[str, Any]) -> int:
    probes = report.get("probes") or []
    return len({(p.get("network"), p.get("name")) for p in probes})


def build(steps: Sequence[Step]) -> Section:
    section = Section("3", "Growth with networks and containers")
    rows = []
    counts: set[int | None] = set()
    probe_times: list[tuple[int, float]] = []
    for step in steps:
        s, reports = step.series, step.reports
        fast = reports.get(CHECK_FAST_API, {})
        full = reports.get(CHECK_FULL_API, {})
        for key in (CHECK_FAST_API, CHECK_FAST_PRIVATE, CHECK_FULL_API, CHECK_FULL_PRIVATE):
            counts.add(_requests(reports.get(key, {})))
        probe = statistics.median(paired_differences(s[CHECK_FULL_API], s[CHECK_FAST_API]))
        inner_fast, inner_full = _in_process(s[CHECK_FAST_API]), _in_process(s[CHECK_FULL_API])
        inner_probe = statistics.median(b - a for a, b in zip(inner_fast, inner_full, strict=True))
        probe_times.append((_questions(full), inner_probe))
        findings = (full.get("summary") or {}).get("findings")
        rows.append(
            (
                step.label,
                str(step.containers),
                str(_requests(fast)),
                str(_requests(full)),
                ms(s[CHECK_FAST_API].median()),
                ms(s[CHECK_FULL_API].median()),
                ms(statistics.median(inner_fast)),
                ms(statistics.median(inner_full)),
                str(_names(full)),
                str(_questions(full)),
                ms(probe),
                ms(inner_probe),
                str(findings),
            )
        )
    section.table(
        "One cold `aardcheck check` per size (API service; medians of alternating rounds)",
        (
            "size",
            "containers",
            "API requests (--no-probe)",
            "API requests (probe)",
            "wall --no-probe",
            "wall with probe",
            "in-process --no-probe",
            "in-process with probe",
            "names probed",
            "DNS questions",
            "probe's share (wall)",
            "probe's share (in-process)",
            "findings",
        ),
        rows,
    )
    constant = len(counts) == 1 and None not in counts
    section.figure(
        "3a",
        "podman API requests per check, at every size",
        float(next(iter(counts)) or 0) if constant else float("nan"),
        "",
        "constant",
        constant,
        "" if constant else f"counts seen: {sorted(c or -1 for c in counts)}",
    )
    if probe_times:
        (q0, t0), (q1, t1) = probe_times[0], probe_times[-1]
        section.figure(
            "3b",
            f"the probe's share of a check (in-process, paired): {steps[0].label} "
            f"({q0} DNS questions) -> {steps[-1].label} ({q1})",
            t1 * 1000,
            "ms",
            "grows with the slowest network, not the names",
            None,
            f"{t0 * 1000:.0f} ms at {steps[0].label}; see the table for every size",
        )
    section.notes.append(
        "The probe's share is the paired difference between `check` and `check --no-probe` in "
        "the same round, on wall time and on the check's own `duration_s` (gather + analyse, "
        "without starting Python); it includes starting the namespace agent (a Python process) "
        "and building and parsing every DNS message with dnspython."
    )
    section.data = {
        st.label: {"requests": {k: _requests(v) for k, v in st.reports.items()}} for st in steps
    }
    return section
