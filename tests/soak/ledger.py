"""The soak's bookkeeping: ground truth (which stale lines exist when), the watcher's
transitions judged against it, and resource samples. Pure: data in, verdicts out.

A transition is *true* when it concerns a stale line the soak planted and had not yet
repaired at that moment (its container id, one of its names, or its address, on one of
its networks), or when it is a problem the churn itself made: still reported at the end
and confirmed by a cold ``aardcheck check`` (``confirmed``). Every other ``appeared`` is
a false alarm, counted by kind. A planted line no finding named within ``MISS_AFTER``
seconds is missed.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A planted line not reported this long after the recipe ended counts as missed.
MISS_AFTER = 30.0
#: A finding about a repaired line may still appear this long after the repair (a check
#: that started before it).
AFTER_REPAIR = 5.0
#: A resolver-down this close to an aardvark-dns restart was a real outage.
RESTART_WINDOW = 15.0


@dataclass
class Planted:
    """One natural stale line: what it is and when it existed (monotonic seconds)."""

    container_id: str
    names: frozenset[str]
    addresses: frozenset[str]
    networks: frozenset[str]
    started: float
    ended: float
    repaired: float | None = None
    detected: float | None = None

    def concerns(self, finding: Mapping[str, Any]) -> bool:
        if finding.get("network") not in self.networks:
            return False
        return (
            finding.get("container_id") == self.container_id
            or finding.get("name") in self.names
            or finding.get("address") in self.addresses
        )

    def present(self, at: float) -> bool:
        until = self.repaired + AFTER_REPAIR if self.repaired is not None else float("inf")
        return self.started <= at <= until


@dataclass(frozen=True)
class Sample:
    at: float
    rss_kib: int
    cpu_s: float
    fds: int
    #: fds of the watcher's child processes (its private API services), netns ones aside
    child_fds: int


@dataclass
class Verdict:
    false_alarms: Counter[str] = field(default_factory=Counter)
    alarm_examples: list[str] = field(default_factory=list)
    #: findings the churn made for real (confirmed by a cold check), by kind
    real: Counter[str] = field(default_factory=Counter)
    missed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


Identity = tuple[str, str, str, str, str]


def identity(finding: Mapping[str, Any]) -> Identity:
    keys = ("kind", "network", "name", "container_id", "address")
    return (*(str(finding.get(k) or "") for k in keys),)  # type: ignore[return-value]


def judge(
    transitions: Iterable[tuple[float, Mapping[str, Any]]],
    planted: Sequence[Planted],
    end: float,
    confirmed: Collection[Identity] = (),
    resolver_restarts: Sequence[float] = (),
    witnessed_down: Collection[float] = (),
) -> Verdict:
    """Classify the watcher's JSON transitions (arrival time, document).
    ``resolver_restarts``: when the aardvark-dns process was seen replaced - a
    ``resolver-down`` near one was a real outage, not a false alarm; so was one whose
    arrival time is in ``witnessed_down`` (a member's own query failed too)."""
    verdict = Verdict()
    docs = list(transitions)
    last_event = {identity(d.get("finding") or {}): d.get("event") for _, d in docs}
    for at, doc in docs:
        if doc.get("event") != "appeared":
            continue
        finding = doc.get("finding") or {}
        owners = [p for p in planted if p.concerns(finding) and p.present(at)]
        ident = identity(finding)
        if not owners and ident in confirmed and last_event.get(ident) == "appeared":
            verdict.real[ident[0]] += 1
            continue
        outage = _real_outage(ident[0], at, resolver_restarts, witnessed_down)
        if outage:
            verdict.real[outage] += 1
            continue
        if not owners:
            verdict.false_alarms[str(finding.get("kind"))] += 1
            if len(verdict.alarm_examples) < 10:
                verdict.alarm_examples.append(
                    f"{finding.get('kind')} {finding.get('network')} {finding.get('name')} "
                    f"{finding.get('address')}: {finding.get('message')}"
                )
            continue
        for p in owners:
            if p.container_id == finding.get("container_id") and p.detected is None:
                p.detected = at
    for p in planted:
        if p.detected is None:
            if end - p.ended >= MISS_AFTER or p.repaired is not None:
                verdict.missed.append(p.container_id[:12])
            continue
        # From the end of the recipe (its ``podman rm`` done); the watcher may already
        # have reported during the recipe's own verification: that counts as 0.
        verdict.latencies.append(max(0.0, p.detected - p.ended))
    return verdict


def _real_outage(
    kind: str, at: float, restarts: Sequence[float], witnessed: Collection[float]
) -> str:
    """Why a resolver-down at ``at`` was true ("" when nothing says so)."""
    if kind != "resolver-down":
        return ""
    if any(abs(at - r) <= RESTART_WINDOW for r in restarts):
        return "resolver-down (aardvark-dns restarted)"
    if at in witnessed:
        return "resolver-down (a member's dig failed too)"
    return ""


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


def trend(samples: Sequence[Sample], key: str) -> dict[str, float]:
    """First-third and last-third medians of a sampled measure (and their difference)."""
    values = [float(getattr(s, key)) for s in samples]
    if len(values) < 3:
        return {"first": values[0] if values else 0.0, "last": values[-1] if values else 0.0}
    third = len(values) // 3
    first, last = statistics.median(values[:third]), statistics.median(values[-third:])
    return {"first": first, "last": last, "growth": last - first, "max": max(values)}


def series(samples: Sequence[Sample], key: str, window: float = 300.0) -> list[float | None]:
    """The median of a sampled measure in each ``window`` seconds from the first sample
    (None for a window without one): whether it levels off, which two thirds' medians
    cannot say."""
    if not samples:
        return []
    start = samples[0].at
    buckets: dict[int, list[float]] = {}
    for s in samples:
        buckets.setdefault(int((s.at - start) // window), []).append(float(getattr(s, key)))
    return [
        statistics.median(buckets[i]) if i in buckets else None for i in range(max(buckets) + 1)
    ]


def summary(
    verdict: Verdict, samples: Sequence[Sample], counts: Mapping[str, int]
) -> dict[str, Any]:
    lat = verdict.latencies
    span = samples[-1].at - samples[0].at if len(samples) > 1 else 0.0
    cpu = samples[-1].cpu_s - samples[0].cpu_s if len(samples) > 1 else 0.0
    return {
        "actions": dict(counts),
        "false_alarms": dict(verdict.false_alarms),
        "false_alarm_examples": verdict.alarm_examples,
        "real_problems_made_by_churn": dict(verdict.real),
        "planted": len(lat) + len(verdict.missed),
        "missed": verdict.missed,
        "latency_s": {
            "n": len(lat),
            "median": round(statistics.median(lat), 3) if lat else None,
            "p95": round(percentile(lat, 0.95), 3) if lat else None,
            "worst": round(max(lat), 3) if lat else None,
        },
        "fds": trend(samples, "fds"),
        "child_fds": trend(samples, "child_fds"),
        "rss_kib": trend(samples, "rss_kib"),
        "rss_kib_per_5_min": series(samples, "rss_kib"),
        "cpu_percent": round(100 * cpu / span, 2) if span > 0 else None,
        "samples": len(samples),
    }
