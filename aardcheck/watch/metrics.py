"""Prometheus metrics of the watcher: its own registry, served over HTTP or written for
node_exporter's textfile collector.

| metric | type | labels |
|---|---|---|
| ``aardcheck_findings`` | gauge | network, kind (reported findings; absent means 0) |
| ``aardcheck_last_check_timestamp_seconds`` | gauge | |
| ``aardcheck_last_check_duration_seconds`` | gauge | |
| ``aardcheck_last_check_success`` | gauge | (1 when the last check could look at all) |
| ``aardcheck_checks_total`` | counter | scope (full, partial), result (ok, error) |
| ``aardcheck_check_duration_seconds`` | histogram | scope (full, partial) |
| ``aardcheck_repairs_total`` | counter | network, result (done, failed, skipped) |
| ``aardcheck_probe_latency_seconds`` | histogram | network |
| ``aardcheck_probe_answers_total`` | counter | network, status (answer, nxdomain, timeout, ...) |

Labels never hold container ids or names: a series per network is the finest grain, so
a host's series stay few however many containers come and go.

The one-shot commands (``check``, ``clean``) write the same families to a textfile of
their own (``aardcheck-check.prom``, ...) with a ``command`` label, so that node_exporter
can read the watcher's file and theirs from one directory without clashing series.
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aardcheck.findings import Finding
from aardcheck.models import ProbeAnswer
from aardcheck.repair.outcome import Change as RepairChange

if TYPE_CHECKING:
    from aardcheck.watch.output import Reporter

TEXTFILE_NAME = "aardcheck.prom"
PROBE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: A check takes ~0.1 s on a quiet host and seconds when probing many names.
CHECK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


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
        # ``*_created`` gauges double the series and nothing here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the library
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
        self.check_duration = Histogram(
            "aardcheck_check_duration_seconds",
            "How long checks take, from wake-up to verdict, by scope (full or partial).",
            ["scope"],
            buckets=CHECK_BUCKETS,
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
        self.probe_answers = Counter(
            "aardcheck_probe_answers",
            "DNS probe tries, by network and outcome (answer, nxdomain, noanswer, servfail, "
            "timeout, error).",
            ["network", "status"],
            registry=self.registry,
        )

    def set_findings(self, findings: Iterable[Finding]) -> None:
        self._findings.set(findings)

    def record_check(self, *, full: bool, ok: bool, duration: float) -> None:
        scope = "full" if full else "partial"
        self.checks.labels(scope, "ok" if ok else "error").inc()
        self.check_duration.labels(scope).observe(duration)
        self.last_check.set(time.time())
        self.last_duration.set(duration)
        self.last_success.set(1 if ok else 0)

    def observe_probes(self, answers: Iterable[ProbeAnswer]) -> None:
        for answer in answers:
            for attempt in answer.tries:
                self.probe_answers.labels(answer.network, str(attempt.status)).inc()
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

    def write_textfile(
        self,
        directory: Path,
        name: str = TEXTFILE_NAME,
        labels: Mapping[str, str] | None = None,
    ) -> Path:
        """Write atomically (temp file + rename) for node_exporter's textfile collector;
        ``labels`` are added to every sample."""
        target = directory / name
        registry: Collector = self.registry
        if labels:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Labelled(self.registry, dict(labels)))
        write_to_textfile(str(target), registry)
        return target


def write_textfile(metrics: WatchMetrics, directory: Path | None, reporter: Reporter) -> None:
    """Write the metrics for node_exporter when ``directory`` is set; a failure (and the
    recovery after it) is said once, not raised: the watcher goes on."""
    if directory is None:
        return
    try:
        metrics.write_textfile(directory)
    except OSError as err:
        reporter.problem("textfile", f"cannot write metrics to {directory}: {err}")
    else:
        reporter.recovered("textfile", f"metrics written to {directory} again")


class _Labelled(Collector):
    """Another collector's metrics with constant labels added to each sample."""

    def __init__(self, inner: Collector, labels: dict[str, str]) -> None:
        self._inner = inner
        self._labels = labels

    def collect(self) -> Iterator[Metric]:
        for family in self._inner.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [
                s._replace(labels={**s.labels, **self._labels}) for s in family.samples
            ]
            yield labelled


def write_run_textfile(
    directory: Path,
    command: str,
    *,
    ok: bool,
    duration: float,
    full: bool,
    findings: Iterable[Finding] = (),
    probes: Iterable[ProbeAnswer] = (),
    changes: Iterable[RepairChange] = (),
) -> Path:
    """The textfile of one run of a one-shot command (``check``, ``clean``):
    ``aardcheck-COMMAND.prom`` holding the watcher's families, labelled ``command``.

    Counters and histograms count this run only (each run starts from zero, like a
    restarted process): an alert reads their value as "in the last run".
    """
    metrics = WatchMetrics()
    metrics.set_findings(findings)
    metrics.observe_probes(probes)
    for change in changes:
        metrics.record_repair(change)
    metrics.record_check(full=full, ok=ok, duration=duration)
    return metrics.write_textfile(directory, f"aardcheck-{command}.prom", {"command": command})
