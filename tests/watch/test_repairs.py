"""watch --fix builds the prune plan and keeps only file edits of finished containers."""

from __future__ import annotations

from dataclasses import replace

from aardcheck.checks.analysis import analyse
from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import Snapshot
from aardcheck.repair.plan import DeleteFile, PruneLines
from aardcheck.watch.repairs import prune_plan
from tests.scenario_loader import load_scenario


def result_of(snapshot: Snapshot) -> CheckResult:
    return CheckResult(snapshot, analyse(snapshot), CheckContext(run_dir="/x", scope="rootful"))


def kinds(case: str) -> list[str]:
    result = result_of(load_scenario(case))
    return [type(a).__name__ for a in prune_plan(result, result.findings).actions]


def test_stopped_and_dead_lines_are_pruned() -> None:
    assert kinds("stopped") == ["PruneLines"]
    assert kinds("seed-dead-alias") == ["PruneLines"]


def test_orphan_file_is_deleted() -> None:
    assert kinds("orphan-file") == ["DeleteFile"]


def test_live_containers_are_never_reloaded() -> None:
    assert kinds("wrong-address") == []
    assert kinds("duplicate") == []


def test_networks_are_never_recreated() -> None:
    assert kinds("header-mismatch") == []


def _with_state(snapshot: Snapshot, state: str) -> Snapshot:
    containers = tuple(replace(c, state=state) for c in snapshot.podman.containers)
    return replace(snapshot, podman=replace(snapshot.podman, containers=containers))


def test_a_container_being_created_or_paused_keeps_its_line() -> None:
    exited = load_scenario("stopped")
    for state in ("created", "initialized", "configured", "paused", "stopping"):
        result = result_of(_with_state(exited, state))
        actions = prune_plan(result, result.findings).actions
        assert not [a for a in actions if isinstance(a, PruneLines)], state


def test_only_the_given_findings_are_planned() -> None:
    result = result_of(load_scenario("orphan-file"))
    assert prune_plan(result, ()).empty
    assert isinstance(prune_plan(result, result.findings).actions[0], DeleteFile)
