"""Findings -> repair plan: which action, and never a live container's line."""

from __future__ import annotations

from dataclasses import replace

from aardcheck.checks.analysis import analyse
from aardcheck.findings import Kind
from aardcheck.repair.plan import (
    DeleteFile,
    PruneLines,
    RecreateNetwork,
    ReloadContainer,
    Strategy,
    build_plan,
)
from tests.scenario_loader import load_scenario


def plan_for(case: str, **kw: object):  # type: ignore[no-untyped-def]
    snap = load_scenario(case)
    return build_plan(snap, analyse(snap), **kw)  # type: ignore[arg-type]


def test_dead_line_is_pruned_by_id() -> None:
    plan = plan_for("seed-dead-alias")
    (action,) = plan.actions
    assert isinstance(action, PruneLines)
    assert action.line_nos == (2,) and action.names[:2] == ("old", "app")


def test_live_containers_are_reloaded_never_pruned() -> None:
    for case in ("wrong-address", "duplicate", "missing"):
        plan = plan_for(case)
        assert plan.actions and all(isinstance(a, ReloadContainer) for a in plan.actions), case
    for case in ("seed-dead-alias", "address-conflict", "stopped", "orphan-file"):
        snap = load_scenario(case)
        live = {c.id for c in snap.podman.containers if c.running}
        for a in plan_for(case).actions:
            assert not (isinstance(a, PruneLines) and a.container_id in live), case


def test_orphan_file_is_deleted() -> None:
    (action,) = plan_for("orphan-file").actions
    assert isinstance(action, DeleteFile) and action.path.endswith("gone_default")


def test_unknown_entry_is_never_acted_on() -> None:
    plan = plan_for("unknown-entry-alive")
    assert plan.empty
    (skip,) = plan.skipped
    assert skip.finding.kind is Kind.UNKNOWN_ENTRY


def test_header_mismatch_needs_recreate() -> None:
    plan = plan_for("header-mismatch")
    assert plan.empty and "recreate" in plan.skipped[0].reason
    plan = plan_for("header-mismatch", strategy=Strategy.RECREATE)
    (action,) = plan.actions
    assert isinstance(action, RecreateNetwork) and action.containers == ("web",)


def test_recreate_on_request_even_when_clean() -> None:
    plan = plan_for("healthy", strategy=Strategy.RECREATE, recreate=frozenset({"proj_default"}))
    (action,) = plan.actions
    assert isinstance(action, RecreateNetwork)


def test_plan_is_deterministic() -> None:
    snap = load_scenario("seed-dead-alias")
    findings = analyse(snap)
    assert build_plan(snap, findings) == build_plan(replace(snap), tuple(reversed(findings)))
