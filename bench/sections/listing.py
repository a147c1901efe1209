"""1. ``aardcheck check --no-probe`` against podman's own listing, on a cold process.

Target: at most 2.0x ``podman ps -a --format json`` + ``podman network ls --format json``
at 5x4, 10x10 and 20x10. The floor - what no client of podman's API can avoid - is taken
apart in the anatomy tables: starting Python, podman's ``/info`` (the only source of the
network backend and the store's run root) and the three list calls.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence

from bench.results import Section, at_most, ms, ratio
from bench.sections.hostrun import (
    BEFORE,
    BOTH_LISTINGS,
    CHECK_FAST_API,
    CHECK_FAST_PRIVATE,
    CHECK_FAST_WATCHER,
    LISTING,
    PRIVATE_LISTINGS,
    PYTHON_START,
    Anatomy,
    Step,
    used_private_service,
)
from bench.timing import Series, median_ratio

LIMIT = 2.0
#: A check the watcher answers, against the same listing (issue 12).
WATCHER_LIMIT = 0.5


def _floor_ratio(python: Series, listings: Series, base: Series) -> float:
    """Per round, (Python's start + both listings) / the CLI pair; the median."""
    rounds = zip(python.samples, listings.samples, base.samples, strict=True)
    ratios = [(p.wall + b.wall) / c.wall for p, b, c in rounds if c.wall > 0]
    return statistics.median(ratios) if ratios else float("nan")


def _cpu_ratio(parts: Sequence[Series], base: Series) -> float:
    """Per round, the CPU ``parts`` burn together spread over this machine's cores, / the
    CLI pair's wall time; the median. A wall time cannot be below it: what podman and
    Python burn must be burnt, and only as many cores run at once."""
    cores = len(os.sched_getaffinity(0))
    rounds = zip(*(p.samples for p in parts), base.samples, strict=True)
    ratios = [sum(s.cpu for s in r[:-1]) / cores / r[-1].wall for r in rounds if r[-1].wall > 0]
    return statistics.median(ratios) if ratios else float("nan")


def _floors(section: Section, step: Step) -> None:
    """What no cold check can be below: through a running service, and with a private one."""
    s, base = step.series, step.series[LISTING]
    if PYTHON_START in s and BOTH_LISTINGS in s:
        floor = _floor_ratio(s[PYTHON_START], s[BOTH_LISTINGS], base)
        section.figure(
            f"1-{step.label}-floor",
            f"{step.label}: floor of a cold check, (`python -c pass` + podman's two "
            "container listings at once) / podman listing",
            floor,
            "x",
            note=f"{ms(s[PYTHON_START].median())} + {ms(s[BOTH_LISTINGS].median())}; "
            "no cold check through the API service can be below it",
        )
    if PYTHON_START in s and PRIVATE_LISTINGS in s:
        floor = _floor_ratio(s[PYTHON_START], s[PRIVATE_LISTINGS], base)
        section.figure(
            f"1-{step.label}-private-floor",
            f"{step.label}: floor of a cold check without a system socket, (`python -c "
            "pass` + a private service started, both listings at once, stopped) / "
            "podman listing",
            floor,
            "x",
            note=f"{ms(s[PYTHON_START].median())} + {ms(s[PRIVATE_LISTINGS].median())}; "
            "no cold check with a private service can be below it",
        )
        # On few cores, CPU could be a floor too (a private service's start-up and the
        # listing beside Python's imports); these rows say whether it is. On 2 cores it was
        # not (runs Y-Z2 in docs/benchmarks.md): the check waits in order.
        section.figure(
            f"1-{step.label}-private-cpu-floor",
            f"{step.label}: CPU floor without a system socket, the CPU of `python -c pass` "
            "+ the private service's start, listings and stop, over the cores / podman listing",
            _cpu_ratio((s[PYTHON_START], s[PRIVATE_LISTINGS]), base),
            "x",
            note=f"{ms(s[PYTHON_START].median_cpu())} + {ms(s[PRIVATE_LISTINGS].median_cpu())} CPU",
        )
        section.figure(
            f"1-{step.label}-private-check-cpu",
            f"{step.label}: CPU of `check --no-probe` with its private service, over the "
            "cores / podman listing",
            _cpu_ratio((s[CHECK_FAST_PRIVATE],), base),
            "x",
            note=f"{ms(s[CHECK_FAST_PRIVATE].median_cpu())} CPU; the check's wall time "
            "cannot be below it on this machine",
        )


def build(steps: Sequence[Step], anatomies: Mapping[str, Anatomy]) -> Section:
    section = Section("1", "check --no-probe vs podman's own listing")
    rows = []
    for step in steps:
        s = step.series
        base = s[LISTING]
        for label, key in (
            ("API service", CHECK_FAST_API),
            ("private service", CHECK_FAST_PRIVATE),
        ):
            value = median_ratio(s[key], base)
            section.figure(
                f"1-{step.label}-{'api' if key == CHECK_FAST_API else 'private'}",
                f"{step.label}: `check --no-probe` ({label}) / podman listing",
                value,
                "x",
                f"<= {LIMIT:.1f}x",
                at_most(value, LIMIT),
            )
        value = median_ratio(s[CHECK_FAST_WATCHER], base)
        answered = f"{step.watcher_answered} of {len(s[CHECK_FAST_WATCHER].samples)} runs answered"
        section.figure(
            f"1-{step.label}-watcher",
            f"{step.label}: `check --no-probe` answered by a running watcher / podman listing",
            value,
            "x",
            f"<= {WATCHER_LIMIT:.1f}x",
            at_most(value, WATCHER_LIMIT),
            answered + " (the others computed cold)",
        )
        _floors(section, step)
        row = [step.label, ms(base.median()), ms(s[CHECK_FAST_API].median())]
        row += [ms(s[CHECK_FAST_PRIVATE].median()), ms(s[CHECK_FAST_WATCHER].median())]
        row += [ratio(median_ratio(s[CHECK_FAST_API], base))]
        row += [ratio(median_ratio(s[CHECK_FAST_PRIVATE], base))]
        row += [ratio(median_ratio(s[CHECK_FAST_WATCHER], base))]
        if BEFORE + CHECK_FAST_API in s:
            row += [
                ratio(median_ratio(s[BEFORE + CHECK_FAST_API], base)),
                ratio(median_ratio(s[BEFORE + CHECK_FAST_PRIVATE], base)),
            ]
        rows.append(tuple(row))
    header = ["size", "podman listing", "check (API)", "check (private)", "check (watcher)"]
    header += ["ratio (API)", "ratio (private)", "ratio (watcher)"]
    if any(BEFORE + CHECK_FAST_API in st.series for st in steps):
        header += ["before: ratio (API)", "before: ratio (private)"]
    section.table("Median wall time and paired ratios", tuple(header), rows)
    for step in steps:
        for key, want in ((CHECK_FAST_PRIVATE, True), (CHECK_FAST_API, False)):
            for label in (key, BEFORE + key):
                if label not in step.reports:
                    continue
                used = used_private_service(step.reports[label])
                if used is not want:
                    section.notes.append(
                        f"{step.label}: `{label}` did not run as labelled (private service: "
                        f"{used}); its figures are not what the label says."
                    )
    for label, anatomy in anatomies.items():
        section.table(
            f"Anatomy at {label}: one request to a running service (median ms)",
            ("request", "ms"),
            [(k, f"{v:.1f}") for k, v in anatomy.requests.items()],
        )
        section.table(
            f"Anatomy at {label}: a private `podman system service`, as aardcheck starts one "
            "(median ms)",
            ("phase", "ms"),
            [(k, f"{v:.1f}") for k, v in anatomy.service.items()],
        )
    section.data["anatomy"] = {
        label: {"requests": a.requests, "service": a.service} for label, a in anatomies.items()
    }
    section.data["steps"] = {
        st.label: {k: v.summary() for k, v in st.series.items()} for st in steps
    }
    return section
