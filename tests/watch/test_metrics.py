"""The metrics registry: findings gauge, counters, probe histogram, exposition."""

from __future__ import annotations

import urllib.request
from ipaddress import ip_address
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from aardcheck.findings import Finding, Kind
from aardcheck.models import ProbeAnswer, ProbeStatus, ProbeTry
from aardcheck.repair.outcome import Change as RepairChange
from aardcheck.watch.metrics import WatchMetrics

DEAD = Finding(Kind.DEAD_ENTRY, "web", "a", "aa" * 32, "10.89.0.5")
DEAD2 = Finding(Kind.DEAD_ENTRY, "web", "b", "bb" * 32, "10.89.0.6")
ORPHAN = Finding(Kind.ORPHAN_FILE, "old")


def samples(m: WatchMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(m.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_findings_gauge_follows_the_current_set() -> None:
    m = WatchMetrics()
    m.set_findings([DEAD, DEAD2, ORPHAN])
    s = samples(m)
    assert s[("aardcheck_findings", (("kind", "dead-entry"), ("network", "web")))] == 2
    assert s[("aardcheck_findings", (("kind", "orphan-file"), ("network", "old")))] == 1
    m.set_findings([])
    assert not [k for k in samples(m) if k[0] == "aardcheck_findings"]


def test_checks_and_repairs_count() -> None:
    m = WatchMetrics()
    m.record_check(full=True, ok=True, duration=0.25)
    m.record_check(full=False, ok=False, duration=0.01)
    m.record_repair(RepairChange("prune-lines", "web", "/x", "done", ""))
    m.record_repair(RepairChange("prune-lines", "web", "/x", "failed", ""))
    m.record_repair(RepairChange("reload-resolver", "", "/x", "done", ""))
    s = samples(m)
    assert s[("aardcheck_checks_total", (("result", "ok"), ("scope", "full")))] == 1
    assert s[("aardcheck_checks_total", (("result", "error"), ("scope", "partial")))] == 1
    assert s[("aardcheck_repairs_total", (("network", "web"), ("result", "done")))] == 1
    assert s[("aardcheck_repairs_total", (("network", "web"), ("result", "failed")))] == 1
    assert s[("aardcheck_last_check_duration_seconds", ())] == 0.01
    assert s[("aardcheck_last_check_success", ())] == 0
    assert s[("aardcheck_last_check_timestamp_seconds", ())] > 1e9


def test_probe_latency_histogram() -> None:
    m = WatchMetrics()
    answer = ProbeAnswer(
        "web",
        "a",
        "A",
        ip_address("10.89.0.1"),
        (
            ProbeTry(ProbeStatus.ANSWER, latency_ms=2.0),
            ProbeTry(ProbeStatus.ANSWER, latency_ms=30.0),
        ),
    )
    m.observe_probes([answer])
    s = samples(m)
    assert s[("aardcheck_probe_latency_seconds_count", (("network", "web"),))] == 2
    le = (("le", "0.0025"), ("network", "web"))
    assert s[("aardcheck_probe_latency_seconds_bucket", le)] == 1


def test_textfile_is_written_atomically(tmp_path: Path) -> None:
    m = WatchMetrics()
    m.set_findings([DEAD])
    target = m.write_textfile(tmp_path)
    assert target.name == "aardcheck.prom"
    assert 'aardcheck_findings{kind="dead-entry",network="web"} 1.0' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["aardcheck.prom"]


def test_http_server_on_loopback() -> None:
    m = WatchMetrics()
    m.set_findings([DEAD])
    server = m.serve("127.0.0.1", 0)
    try:
        assert server.port > 0
        with urllib.request.urlopen(server.url, timeout=5) as response:
            body = response.read().decode()
        assert "aardcheck_findings" in body
    finally:
        server.close()
