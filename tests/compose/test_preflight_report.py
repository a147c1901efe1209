"""Rendering a pre-flight result: the problem, the file and the repair command appear."""

from __future__ import annotations

import json

from aardcheck.compose.preflight import Hazard, NetworkStatus, PreflightResult
from aardcheck.compose.preflight_report import render_json, render_text
from aardcheck.compose.project import ComposeNetwork, ComposeProject
from aardcheck.findings import CheckContext, Finding, Kind, Severity

NET = ComposeNetwork("default", "shop_default", False, ("web", "db"))
PROJECT = ComposeProject("shop", "name:", "/srv/shop", ("compose.yaml",), (NET,))
LEFTOVER = "/run/containers/networks/aardvark-dns/shop_default"
ORPHAN = Finding(
    Kind.ORPHAN_FILE, "shop_default", severity=Severity.WARNING, message="file of deleted "
    "network 'shop_default' still holds 1 line(s)", fix="aardcheck fix --network shop_default",
    path=LEFTOVER,
)  # fmt: skip
HAZARD = Hazard("subnet-in-use", "shop_default", "subnet 10.5.0.0/16 overlaps x", "pick one")
CONTEXT = CheckContext("/run/containers/networks", "rootful", "4.3.1")
FIX = "aardcheck preflight -p shop --fix"


def result(*findings: Finding, hazards: tuple[Hazard, ...] = ()) -> PreflightResult:
    status = NetworkStatus(NET, "create", LEFTOVER if findings else "", "10.89.0.0/24")
    return PreflightResult(PROJECT, (status,), findings, (), hazards, CONTEXT)


def test_unsafe_text_names_file_and_repair() -> None:
    text = render_text(result(ORPHAN, hazards=(HAZARD,)), FIX)
    assert LEFTOVER in text and "orphan-file" in text and "subnet-in-use" in text
    assert text.rstrip().endswith(FIX)
    assert "NOT SAFE: 2 problem(s)" in text


def test_safe_text() -> None:
    text = render_text(result(), FIX)
    assert "safe: `podman-compose up` meets no stale DNS state for shop" in text
    assert "likely subnet 10.89.0.0/24" in text


def test_json_document() -> None:
    doc = json.loads(render_json(result(ORPHAN), FIX))
    assert (doc["schema"], doc["safe"], doc["exit_code"]) == ("aardcheck.preflight/1", False, 1)
    assert doc["networks"][0] | {"leftover_file": LEFTOVER} == doc["networks"][0]
    assert [f["path"] for f in doc["findings"]] == [LEFTOVER]
    assert doc["repair_command"] == FIX
