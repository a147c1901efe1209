"""The alerting rules: valid (``promtool check rules``) and doing what their unit tests
say (``promtool test rules``, input series and the alerts expected from them)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml

from tests.monitoring.promtool import MONITORING, run_promtool

RULES = MONITORING / "aardcheck-rules.yml"
RULE_TESTS = sorted((MONITORING / "tests").glob("*.test.yml"))


def load_rules(path: Path = RULES) -> list[dict[str, object]]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    checked = run_promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in checked.stdout


def test_promtool_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "no rule unit tests under monitoring/tests"
    tested = run_promtool("test", "rules", *map(str, RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_unit_test() -> None:
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {str(rule["alert"]) for rule in load_rules()}
    assert alerts - tested == set()


def test_annotations_name_host_network_and_a_command() -> None:
    for rule in load_rules():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        text = f"{annotations['summary']} {annotations['description']}"
        grouped = re.search(r"by \(([^)]*)\)", str(rule["expr"]))
        labels = {label.strip() for label in grouped.group(1).split(",")} if grouped else set()
        if rule["alert"] != "AardcheckWatcherAbsent":  # absent(): no host to name
            assert "{{ $labels.instance }}" in text, rule["alert"]
        if "network" in labels:
            assert "{{ $labels.network }}" in text, rule["alert"]
        assert re.search(r"`(aardcheck|podman|systemctl|journalctl) [^`]+`", text), rule["alert"]


def test_a_broken_rule_fails_its_unit_test(tmp_path: Path) -> None:
    """The unit tests can fail: the stale-lines alert firing after 1 minute breaks them."""
    (tmp_path / "tests").mkdir()
    rules = RULES.read_text()
    assert "for: 5m" in rules
    (tmp_path / RULES.name).write_text(rules.replace("for: 5m", "for: 1m"))
    for path in RULE_TESTS:
        shutil.copy(path, tmp_path / "tests" / path.name)
    tested = run_promtool("test", "rules", *(str(tmp_path / "tests" / p.name) for p in RULE_TESTS))
    assert tested.returncode != 0
    assert "AardcheckStaleDnsEntries" in tested.stdout + tested.stderr


def test_the_example_prometheus_config_is_valid() -> None:
    """monitoring/prometheus.yml (the README's scrape config) loads, rules included."""
    checked = run_promtool("check", "config", str(MONITORING / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in checked.stdout
