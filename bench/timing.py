"""Timing primitives: one timed process, alternating rounds, medians and paired ratios.

Every comparison in the report is a *paired* ratio: in each round every variant runs once,
in an order that rotates from round to round (so no variant always follows a warm or a
noisy neighbour), and the ratio is taken between results of the same round. The figure
is the median of those per-round ratios. On a shared machine whose speed drifts by tens
of percent over a minute, this is what keeps a ratio honest; absolute times are given
too, but only the ratios are compared with targets.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

#: Upper bound for any one timed command (a hung podman must not hang the bench).
COMMAND_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured run: wall seconds, CPU seconds of the process and its waited-for
    children (user + system), exit status and output."""

    wall: float
    cpu: float = 0.0
    returncode: int = 0
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = COMMAND_TIMEOUT,
    capture: bool = True,
) -> Sample:
    """Run ``argv`` to completion; its wall time and the CPU it and its children used.

    CPU comes from ``RUSAGE_CHILDREN`` before and after, so the caller must not reap
    other children meanwhile (the bench measures one thing at a time). A process that
    outlives the timeout is killed and raises ``subprocess.TimeoutExpired``.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu, proc.returncode, proc.stdout or "", proc.stderr or "")


def time_block(body: Callable[[], object]) -> Sample:
    """Wall and CPU (this process and its reaped children) of calling ``body``."""
    self_before = time.process_time()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    body()
    wall = time.perf_counter() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    return Sample(wall, time.process_time() - self_before + children)


@dataclass
class Series:
    """Samples of one variant."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]

    @property
    def cpus(self) -> list[float]:
        return [s.cpu for s in self.samples]

    def median(self) -> float:
        return statistics.median(self.walls) if self.samples else float("nan")

    def median_cpu(self) -> float:
        return statistics.median(self.cpus) if self.samples else float("nan")

    def worst(self) -> float:
        return max(self.walls) if self.samples else float("nan")

    def summary(self) -> dict[str, object]:
        return {
            "label": self.label,
            "runs": len(self.samples),
            "median_s": _round(self.median()),
            "min_s": _round(min(self.walls)) if self.samples else None,
            "max_s": _round(self.worst()),
            "median_cpu_s": _round(self.median_cpu()),
            "wall_s": [_round(w) for w in self.walls],
            "failures": sum(1 for s in self.samples if s.returncode not in (0, 1)),
        }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)  # NaN -> None in JSON


def alternate(
    variants: Mapping[str, Callable[[], Sample]], rounds: int, *, warmup: bool = True
) -> dict[str, Series]:
    """Run every variant once per round, the order rotating each round.

    ``warmup`` runs each variant once untimed first (page cache, compiled bytecode,
    podman's first-use work), so that the rounds compare steady states.
    """
    names = list(variants)
    if warmup:
        for name in names:
            variants[name]()
    series = {name: Series(name) for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            series[name].samples.append(variants[name]())
    return series


def paired_ratios(numerator: Series, denominator: Series) -> list[float]:
    """Per-round ratios numerator/denominator (rounds are aligned by index)."""
    return [
        a.wall / b.wall
        for a, b in zip(numerator.samples, denominator.samples, strict=True)
        if b.wall > 0
    ]


def median_ratio(numerator: Series, denominator: Series) -> float:
    ratios = paired_ratios(numerator, denominator)
    return statistics.median(ratios) if ratios else float("nan")


def paired_differences(minuend: Series, subtrahend: Series) -> list[float]:
    """Per-round differences (seconds)."""
    return [a.wall - b.wall for a, b in zip(minuend.samples, subtrahend.samples, strict=True)]


def environment_with(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
