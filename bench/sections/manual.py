"""2. The full ``aardcheck check`` (with the probe) against the manual procedure.

The manual procedure is what a user does today: ``podman ps -a`` and ``podman network ls``,
read each aardvark file, then ``podman exec MEMBER nslookup NAME`` for every container
name and alias on every network, one after the other. Target: the check takes at most
0.1x of it at 5x4 (issue 12), falling further as the host grows.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.results import Section, at_most, ms, ratio
from bench.sections.hostrun import CHECK_FULL_API, CHECK_FULL_PRIVATE, MANUAL, Step
from bench.timing import median_ratio

LIMIT = 0.1


def build(steps: Sequence[Step]) -> Section:
    section = Section("2", "check vs the manual procedure")
    measured = [st for st in steps if MANUAL in st.series]
    if not measured:
        section.skipped = "the manual procedure was not run"
        return section
    rows = []
    previous: float | None = None
    for step in measured:
        s = step.series
        manual = s[MANUAL]
        private = median_ratio(s[CHECK_FULL_PRIVATE], manual)
        api = median_ratio(s[CHECK_FULL_API], manual)
        falling = previous is None or private <= previous
        target = "<= 0.1x" if previous is None else "falling with size"
        met = at_most(private, LIMIT) if previous is None else falling
        section.figure(
            f"2-{step.label}",
            f"{step.label}: `check` (private service) / manual procedure",
            private,
            "x",
            target,
            met,
            f"with an API service: {ratio(api)}",
        )
        previous = private
        rows.append(
            (
                step.label,
                str(step.manual_lookups // max(1, len(manual.samples) + 1)),
                ms(manual.median()),
                ms(s[CHECK_FULL_PRIVATE].median()),
                ms(s[CHECK_FULL_API].median()),
                ratio(private),
                ratio(api),
            )
        )
    section.table(
        "Median wall time and paired ratios",
        (
            "size",
            "nslookups per run",
            "manual",
            "check (private)",
            "check (API)",
            "ratio (private)",
            "ratio (API)",
        ),
        rows,
    )
    failed = sum(st.manual_failures for st in measured)
    section.notes.append(
        f"`nslookup` lookups that failed in the manual runs: {failed} (0 expected: every "
        "name asked exists)."
    )
    return section
