"""Prometheus metrics of the watcher: its own registry, served over HTTP or written for
node_exporter's textfile collector.

| metric | type | labels |
|---|---|---|
| ``aardcheck_findings`` | gauge | network, kind (reported findings; absent means 0) |
| ``aardcheck_last_check_timestamp_seconds`` | gauge | |
| ``aardcheck_last_check_duration_seconds`` | gauge | |
| ``aardcheck_last_check_success`` | gauge | (1 when the last check could look at all) |
| ``aardcheck_checks_total`` | counter | scope (full, partial), result (ok, error) |
| ``aardcheck_repairs_total`` | counter | network, result (done, failed, skipped) |
| ``aardcheck_probe_latency_seconds`` | histogram | network |
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aardcheck.models import Finding, ProbeAnswer
from aardcheck.repair.outcome import Change as RepairChange

TEXTFILE_NAME = "aardcheck.prom"
PROBE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _FindingsCollector(Collector):
    """Yields the current counts on each scrape, so resolved series vanish at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def set(self, findings: Iterable[Finding]) -> None:
        counts = Tally((f.network, str(f.kind)) for f in findings)
        with self._lock:
            self._counts = dict(counts)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "aardcheck_findings",
            "Findings currently reported, by network and kind (absent means 0).",
            labels=["network", "kind"],
        )
        with self._lock:
            items = sorted(self._counts.items())
        for (network, kind), count in items:
            family.add_metric([network, kind], count)
        yield family


@dataclass(slots=True)
class MetricsServer:
    """The HTTP endpoint; ``close`` stops and joins its thread."""

    address: str
    port: int
    _server: object
    _thread: threading.Thread

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        shutdown = getattr(self._server, "shutdown", None)
        close = getattr(self._server, "server_close", None)
        if callable(shutdown):
            shutdown()
        if callable(close):
            close()
        self._thread.join(timeout=5)


class WatchMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._findings = _FindingsCollector()
        self.registry.register(self._findings)
        self.last_check = Gauge(
            "aardcheck_last_check_timestamp_seconds",
            "When the last check finished (Unix time).",
            registry=self.registry,
        )
        self.last_duration = Gauge(
            "aardcheck_last_check_duration_seconds",
            "How long the last check took.",
            registry=self.registry,
        )
        self.last_success = Gauge(
            "aardcheck_last_check_success",
            "1 when the last check could look at podman and the files, else 0.",
            registry=self.registry,
        )
        self.checks = Counter(
            "aardcheck_checks",
            "Checks run, by scope (full or partial) and result (ok or error).",
            ["scope", "result"],
            registry=self.registry,
        )
        self.repairs = Counter(
            "aardcheck_repairs",
            "Repair steps, by network and result (done, failed, skipped).",
            ["network", "result"],
            registry=self.registry,
        )
        self.probe_latency = Histogram(
            "aardcheck_probe_latency_seconds",
            "Latency of DNS probes asked of aardvark-dns from inside a network.",
            ["network"],
            buckets=PROBE_BUCKETS,
            registry=self.registry,
        )

    def set_findings(self, findings: Iterable[Finding]) -> None:
        self._findings.set(findings)

    def record_check(self, *, full: bool, ok: bool, duration: float) -> None:
        self.checks.labels("full" if full else "partial", "ok" if ok else "error").inc()
        self.last_check.set(time.time())
        self.last_duration.set(duration)
        self.last_success.set(1 if ok else 0)

    def observe_probes(self, answers: Iterable[ProbeAnswer]) -> None:
        for answer in answers:
            for attempt in answer.tries:
                if attempt.latency_ms > 0:
                    self.probe_latency.labels(answer.network).observe(attempt.latency_ms / 1000)

    def record_repair(self, change: RepairChange) -> None:
        if change.network:  # the resolver reload is not a repair of one network
            self.repairs.labels(change.network, change.status).inc()

    def serve(self, address: str, port: int) -> MetricsServer:
        """Serve ``/metrics``; port 0 picks a free port (see ``MetricsServer.port``)."""
        from prometheus_client import start_http_server

        server, thread = start_http_server(port, addr=address, registry=self.registry)
        return MetricsServer(address, int(server.server_port), server, thread)

    def write_textfile(self, directory: Path) -> Path:
        """Write atomically (temp file + rename) for node_exporter's textfile collector."""
        target = directory / TEXTFILE_NAME
        write_to_textfile(str(target), self.registry)
        return target
