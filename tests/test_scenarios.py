"""Every fixture scenario: the checks find exactly the expected identities."""

from __future__ import annotations

import pytest

from aardcheck.checks.analysis import analyse, liveness_requests
from aardcheck.findings import Kind, Severity
from tests.scenario_loader import SCENARIOS, expected_identities, load_scenario

CASES = sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES)
def test_scenario_findings(case: str) -> None:
    findings = analyse(load_scenario(case))
    assert sorted(f.identity for f in findings) == expected_identities(case)


def test_seed_names_the_shadowed_name_and_the_dead_address() -> None:
    (dead,) = analyse(load_scenario("seed-dead-alias"))
    assert dead.kind is Kind.DEAD_ENTRY
    assert "10.89.0.2" in dead.message and "'app' also answers live 10.89.0.3" in dead.message
    assert dead.line_no == 2


def test_orphan_overlapping_a_live_subnet_is_critical() -> None:
    (orphan,) = analyse(load_scenario("orphan-subnet-reuse"))
    assert orphan.severity is Severity.CRITICAL
    (plain,) = analyse(load_scenario("orphan-file"))
    assert plain.severity is Severity.WARNING


def test_liveness_is_asked_only_for_lines_podman_does_not_know() -> None:
    (req,) = liveness_requests(load_scenario("seed-dead-alias"))
    assert req.network == "proj_default" and [str(a) for a in req.addresses] == ["10.89.0.2"]
    assert liveness_requests(load_scenario("healthy")) == ()
    # an address held by a live container needs no second source: it is a conflict
    assert liveness_requests(load_scenario("address-conflict")) == ()


def test_ignore_drops_a_kind() -> None:
    assert analyse(load_scenario("duplicate"), ignore=[Kind.DUPLICATE_ENTRY]) == ()
