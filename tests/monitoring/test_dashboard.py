"""The Grafana dashboard (and the rules) use only what the exporter really shows: every
metric name and label in their PromQL appears in the live output of the watcher, check
and clean; every expression parses (promtool)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.conftest import LiveOutputs
from tests.monitoring.promtool import MONITORING, run_promtool
from tests.monitoring.test_exposition import LABELS
from tests.monitoring.test_rules import load_rules

DASHBOARD = MONITORING / "aardcheck-dashboard.json"
#: Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"instance", "job"}
METRIC = re.compile(r"\b(aardcheck_[a-z0-9_]+)\b")
SELECTOR = re.compile(r"\b(aardcheck_[a-z0-9_]+)\{([^}]*)\}")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
#: Grafana's variables, as a panel would expand them.
VARIABLES = {"$__rate_interval": "5m", "$instance": ".*", "$network": ".*"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[str]:
    doc = dashboard()
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    for var in doc["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["query"]["query"])
    return exprs


def rule_exprs() -> list[str]:
    return [str(rule["expr"]) for rule in load_rules()]


def matcher_labels(expr: str) -> set[str]:
    labels = {m.split("=")[0].split("!")[0].strip() for _, body in SELECTOR.findall(expr)
              for m in body.split(",") if m.strip()}  # fmt: skip
    for grouping in GROUPING.findall(expr):
        labels |= {label.strip() for label in grouping.split(",") if label.strip()}
    return labels


def test_dashboard_shape() -> None:
    doc = dashboard()
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    names = {v["name"] for v in doc["templating"]["list"]}
    assert {"datasource", "instance", "network"} <= names
    graphs = [p for p in doc["panels"] if p["type"] != "row"]
    titles = " ".join(p["title"].lower() for p in graphs)
    for topic in ("findings by kind", "check duration", "probe answers", "repairs"):
        assert topic in titles
    for panel in graphs:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert 'instance=~"$instance"' in target["expr"], panel["title"]


def test_every_expression_parses(tmp_path: Path) -> None:
    """promtool parses each expression as a recording rule (variables expanded)."""
    # label_values() of the variables is Grafana's, not PromQL
    exprs = [e for e in dashboard_exprs() if not e.startswith("label_values(")] + rule_exprs()
    rules = []
    for number, text in enumerate(exprs):
        expanded = text
        for name, value in VARIABLES.items():
            expanded = expanded.replace(name, value)
        rules.append({"record": f"aardcheck:parsed:{number}", "expr": expanded})
    path = tmp_path / "parsed.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "parsed", "rules": rules}]}))
    checked = run_promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_misspelt_metric_would_be_caught(live_outputs: LiveOutputs) -> None:
    assert "aardcheck_finding" not in live_outputs.names()
    assert set(METRIC.findall("sum(aardcheck_finding{x='y'})")) - live_outputs.names()


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_metric_names_and_labels_exist_in_the_live_output(
    live_outputs: LiveOutputs, source: str
) -> None:
    exprs = dashboard_exprs() if source == "dashboard" else rule_exprs()
    shown = live_outputs.names()
    for expr in exprs:
        names = set(METRIC.findall(expr))
        assert names or re.search(r"\bup\{", expr), f"no aardcheck metric in {expr}"
        assert names <= shown, f"{sorted(names - shown)} not in the exporter's output: {expr}"
        assert matcher_labels(expr) <= LABELS | TARGET_LABELS, expr
