"""Transition and repair lines: text (with journald priorities) and JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from aardcheck.findings import Finding, Kind, Severity
from aardcheck.repair.outcome import Change as RepairChange
from aardcheck.watch.output import Reporter, transition_json, transition_text
from aardcheck.watch.transitions import Change, Transition

DEAD = Finding(Kind.DEAD_ENTRY, "web", "a,app", "ab" * 32, "10.89.0.5", message="nothing answers")
CONFLICT = Finding(Kind.ADDRESS_CONFLICT, "web", severity=Severity.CRITICAL, message="x")
AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_text_lines() -> None:
    assert transition_text(Transition(Change.APPEARED, DEAD)) == (
        "appeared: error dead-entry network=web name=a,app container=abababababab "
        "address=10.89.0.5: nothing answers"
    )
    assert transition_text(Transition(Change.RESOLVED, DEAD)) == (
        "resolved: dead-entry network=web name=a,app container=abababababab address=10.89.0.5"
    )


def test_control_characters_in_names_are_escaped() -> None:
    odd = Finding(Kind.DEAD_ENTRY, "web", "a\nb")
    assert "\n" not in transition_text(Transition(Change.APPEARED, odd))


def test_json_document() -> None:
    doc = json.loads(transition_json(Transition(Change.APPEARED, DEAD), AT))
    assert doc["schema"] == "aardcheck.watch/1"
    assert doc["event"] == "appeared"
    assert doc["time"] == "2024-05-01T12:00:00.000Z"
    assert doc["finding"]["kind"] == "dead-entry"
    assert doc["finding"]["container_id"] == "ab" * 32


def test_journal_priorities() -> None:
    err = io.StringIO()
    r = Reporter(json_output=False, err=err, out=io.StringIO(), journal=True)
    r.transition(Transition(Change.APPEARED, DEAD))
    r.transition(Transition(Change.APPEARED, CONFLICT))
    r.transition(Transition(Change.RESOLVED, DEAD))
    r.info("ready")
    assert [line[:3] for line in err.getvalue().splitlines()] == ["<3>", "<2>", "<5>", "<6>"]


def test_plain_prefix_without_journal() -> None:
    err = io.StringIO()
    Reporter(json_output=False, err=err, journal=False).info("ready")
    assert err.getvalue() == "aardcheck: ready\n"


def test_json_mode_keeps_stdout_to_json_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    r = Reporter(json_output=True, out=out, err=err, journal=False)
    r.transition(Transition(Change.APPEARED, DEAD))
    r.repair(RepairChange("prune-lines", "web", "/run/x/web", "done", "removed 1 line"))
    r.info("ready")
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["appeared", "repair"]
    assert err.getvalue() == "aardcheck: ready\n"


def test_a_problem_is_reported_once_until_it_recovers() -> None:
    err = io.StringIO()
    r = Reporter(json_output=False, err=err, journal=False)
    for _ in range(5):
        r.problem("podman", "podman is gone")
    r.recovered("podman", "podman is back")
    r.recovered("podman", "podman is back")
    r.problem("podman", "podman is gone")
    assert err.getvalue().splitlines() == [
        "aardcheck: podman is gone",
        "aardcheck: podman is back",
        "aardcheck: podman is gone",
    ]


def test_debug_only_when_verbose() -> None:
    err = io.StringIO()
    Reporter(json_output=False, err=err, journal=False).debug("check #1")
    assert err.getvalue() == ""
    Reporter(json_output=False, err=err, journal=False, verbose=True).debug("check #1")
    assert err.getvalue() == "aardcheck: check #1\n"
