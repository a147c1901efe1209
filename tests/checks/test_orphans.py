"""orphan-file's consequence depends on the aardvark-dns that will read the file."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aardcheck.checks.analysis import analyse
from aardcheck.findings import Kind, Severity
from aardcheck.models import AardvarkVersion
from tests.scenario_loader import load_scenario


@pytest.mark.parametrize(
    ("version", "cannot_start"),
    [
        (AardvarkVersion(1, 4, 0), False),
        (AardvarkVersion(1, 11, 0), False),
        (AardvarkVersion(1, 12, 0), True),
        (AardvarkVersion(1, 14, 0), True),
    ],
)
def test_an_orphan_sharing_a_live_gateway_says_what_it_breaks(
    version: AardvarkVersion, cannot_start: bool
) -> None:
    """Every version answers the orphan's names to the network reusing its subnet; 1.12+
    also binds every file's gateway at start, so two files claiming one gateway stop it
    (seen on 1.14.0: `Address already in use`)."""
    snapshot = replace(load_scenario("orphan-subnet-reuse"), aardvark_version=version)
    (orphan,) = [f for f in analyse(snapshot) if f.kind is Kind.ORPHAN_FILE]
    assert orphan.severity is Severity.CRITICAL
    assert "proj_default" in orphan.message
    assert "aardvark answers its stale names there" in orphan.message
    assert ("aardvark-dns cannot start again" in orphan.message) is cannot_start
