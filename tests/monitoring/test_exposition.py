"""The exporter's live output (watcher endpoint, check and clean textfiles) against
real podman: what the runs found, promtool's lint, Prometheus naming conventions."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring.conftest import LiveOutputs, has_sample
from tests.monitoring.promtool import REPO_ROOT, run_promtool

pytestmark = pytest.mark.podman

#: Every label aardcheck puts on a series (``le``: histogram buckets). No container
#: id or name: a series per network is the finest grain.
LABELS = {"network", "kind", "scope", "result", "status", "command", "le"}
SOURCES = ("watch", "check", "clean")


@pytest.mark.parametrize("source", SOURCES)
def test_promtool_check_metrics_is_clean(live_outputs: LiveOutputs, source: str) -> None:
    linted = run_promtool("check", "metrics", stdin=live_outputs.texts[source])
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert linted.stdout.strip() == "" == linted.stderr.strip()


def test_the_runs_report_what_they_found(live_outputs: LiveOutputs) -> None:
    net, texts = live_outputs.network, live_outputs.texts
    assert live_outputs.check_exit == 1  # findings
    check = texts["check"]
    assert has_sample(check, "aardcheck_findings", network=net, kind="dead-entry") == 1
    assert has_sample(check, "aardcheck_last_check_success", command="check") == 1
    answered = has_sample(
        check, "aardcheck_probe_answers_total", network=net, status="answer", command="check"
    )
    assert answered is not None and answered > 0
    count = has_sample(check, "aardcheck_probe_latency_seconds_count", network=net)
    assert count is not None and count > 0

    assert live_outputs.clean_exit == 0
    clean = texts["clean"]
    done = has_sample(clean, "aardcheck_repairs_total", network=net, result="done")
    assert done is not None and done >= 1
    assert has_sample(clean, "aardcheck_findings", network=net, kind="dead-entry") is None
    assert has_sample(clean, "aardcheck_last_check_success", command="clean") == 1
    stale_id = live_outputs.container_ids[1]
    assert not [line for line in live_outputs.lines_after_clean if line.startswith(stale_id)]


@pytest.mark.parametrize("source", SOURCES)
def test_names_and_labels_follow_the_conventions(live_outputs: LiveOutputs, source: str) -> None:
    for family in text_string_to_metric_families(live_outputs.texts[source]):
        assert family.name.startswith("aardcheck_"), family.name
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name
        if "duration" in family.name or "latency" in family.name or "timestamp" in family.name:
            assert family.name.endswith("_seconds"), family.name
        for s in family.samples:
            assert set(s.labels) <= LABELS, (s.name, s.labels)
            for value in s.labels.values():
                for cid in live_outputs.container_ids:
                    assert cid[:12] not in value, (s.name, s.labels)
        if source != "watch":
            assert all(s.labels.get("command") == source for s in family.samples)


def test_readme_lists_exactly_the_exported_metrics(live_outputs: LiveOutputs) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("\n### Metrics\n", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"^\| `(aardcheck_[a-z_]+)` \|", table, re.M))
    exported = {
        family.name + ("_total" if family.type == "counter" else "")
        for text in live_outputs.texts.values()
        for family in text_string_to_metric_families(text)
    }
    assert documented == exported
