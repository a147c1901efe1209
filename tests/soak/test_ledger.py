"""The soak's judge: which watcher transitions are true, which are false alarms."""

from __future__ import annotations

from typing import Any

import pytest

from tests.soak.ledger import (
    MISS_AFTER,
    RESTART_WINDOW,
    Planted,
    Sample,
    identity,
    judge,
    percentile,
    series,
    trend,
)

CID = "ab" * 32


def planted(**changes: Any) -> Planted:
    fields: dict[str, Any] = {
        "container_id": CID,
        "names": frozenset({"c1", CID[:12], "app"}),
        "addresses": frozenset({"10.0.0.5"}),
        "networks": frozenset({"n1"}),
        "started": 10.0,
        "ended": 16.0,
    }
    return Planted(**(fields | changes))


def doc(event: str, kind: str, **finding: str) -> dict[str, Any]:
    return {"event": event, "finding": {"kind": kind, "network": "n1", **finding}}


def test_findings_about_a_planted_line_are_true_and_time_its_detection() -> None:
    p = planted()
    verdict = judge(
        [
            (16.4, doc("appeared", "dead-entry", container_id=CID, address="10.0.0.5")),
            (16.9, doc("appeared", "dns-mismatch", name="app", address="10.0.0.5")),
        ],
        [p],
        end=20.0,
    )
    assert not verdict.false_alarms
    assert verdict.latencies == pytest.approx([0.4])
    assert verdict.missed == []


def test_anything_else_is_a_false_alarm_by_kind() -> None:
    verdict = judge(
        [
            (5.0, doc("appeared", "dead-entry", container_id=CID)),  # before it existed
            (12.0, doc("appeared", "resolver-down", address="10.0.0.1")),
            (13.0, doc("appeared", "dns-mismatch", name="other", address="10.0.0.9")),
        ],
        [planted()],
        end=20.0,
    )
    assert dict(verdict.false_alarms) == {"dead-entry": 1, "resolver-down": 1, "dns-mismatch": 1}


def test_after_its_repair_a_line_is_no_longer_an_excuse() -> None:
    verdict = judge(
        [(40.0, doc("appeared", "dead-entry", container_id=CID))],
        [planted(repaired=20.0, detected=None)],
        end=50.0,
    )
    assert verdict.false_alarms["dead-entry"] == 1


def test_a_line_nobody_reported_is_missed_once_the_wait_is_over() -> None:
    assert judge([], [planted()], end=16.0 + MISS_AFTER - 1).missed == []
    assert judge([], [planted()], end=16.0 + MISS_AFTER).missed == [CID[:12]]


def test_a_problem_the_churn_made_is_real_when_a_cold_check_confirms_it() -> None:
    found = doc("appeared", "dead-entry", container_id="cd" * 32)
    confirmed = {identity(found["finding"])}
    verdict = judge([(30.0, found)], [], end=40.0, confirmed=confirmed)
    assert not verdict.false_alarms and verdict.real["dead-entry"] == 1
    gone = [(30.0, found), (32.0, {**found, "event": "resolved"})]
    assert judge(gone, [], end=40.0, confirmed=confirmed).false_alarms["dead-entry"] == 1


def test_percentile_and_trend() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.95) == 5.0
    samples = [Sample(float(i), 100, 0.0, 10 + (i >= 6), 0) for i in range(9)]
    assert trend(samples, "fds") == {"first": 10, "last": 11, "growth": 1, "max": 11}


def test_series_takes_each_windows_median() -> None:
    samples = [Sample(at, rss, 0.0, 10, 0) for at, rss in [(5.0, 1), (6, 3), (7, 2), (9, 8)]]
    assert series(samples, "rss_kib", window=3.0) == [2.0, 8.0]  # [5, 8) and [8, 11)
    assert series([*samples, Sample(15.0, 4, 0.0, 10, 0)], "rss_kib", window=3.0) == [
        2.0,
        8.0,
        None,  # [11, 14): no sample
        4.0,
    ]
    assert series([], "rss_kib") == []


def test_a_resolver_down_near_an_aardvark_restart_was_a_real_outage() -> None:
    down = (30.0, doc("appeared", "resolver-down", address="10.0.0.1"))
    assert not judge([down], [], end=40.0, resolver_restarts=[26.0]).false_alarms
    far = judge([down], [], end=40.0, resolver_restarts=[26.0 - RESTART_WINDOW - 10])
    assert far.false_alarms["resolver-down"] == 1
