"""The exporter's real output, gathered once per session against real podman (rootful):
a network with a live container and a dead stale line, seen by

- ``watch``: the watcher's ``/metrics`` endpoint while it reports the dead line;
- ``check``: ``aardcheck check --textfile-dir`` (probes on: probe answers and latency);
- ``clean``: ``aardcheck clean --textfile-dir``, which prunes the line (repairs).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.realpodman import HarnessSession, PodmanHost, run_aardcheck, wait_until
from tests.watch.process import WatchProcess
from tests.watch.stale import plant_dead_stale


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def sample_names(text: str) -> set[str]:
    """Names of the families and of every sample (``..._bucket``, ``..._total``)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def has_sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


@dataclass(frozen=True)
class LiveOutputs:
    network: str
    container_ids: tuple[str, ...]
    texts: dict[str, str]  # source (watch, check, clean) -> exposition text
    check_exit: int
    clean_exit: int
    lines_after_clean: tuple[str, ...]

    def names(self) -> set[str]:
        return set().union(*(sample_names(t) for t in self.texts.values()))


@pytest.fixture(scope="session")
def live_outputs(
    rootful_host: PodmanHost,
    harness_session: HarnessSession,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveOutputs]:
    host, session = rootful_host, harness_session
    net = host.network_create(session.new_name("mon"))
    live = host.run(session.new_name("live"), {net: ["app"]})
    doomed = host.run(session.new_name("doomed"), {net: ["app"]})
    stale = plant_dead_stale(host, doomed.name)
    textfiles = tmp_path_factory.mktemp("textfiles")
    texts: dict[str, str] = {}

    watcher = WatchProcess(host, "--network", net, "--interval", "600", "--metrics-port", "0")
    try:
        watcher.wait_ready()
        url = watcher.wait_stderr(r"metrics on (http://127\.0\.0\.1:\d+/metrics)").split()[-1]

        def reported() -> str | None:
            text = scrape(url)
            seen = has_sample(text, "aardcheck_findings", network=net, kind="dead-entry")
            probed = has_sample(text, "aardcheck_probe_answers_total", network=net)
            return text if seen and probed else None

        texts["watch"] = wait_until(
            reported,
            timeout=120,
            what="the watcher's endpoint to report the dead line and its probes",
        )
    finally:
        watcher.kill()

    checked = run_aardcheck("check", "--network", net, "--textfile-dir", textfiles, host=host)
    texts["check"] = Path(textfiles / "aardcheck-check.prom").read_text()
    lock = textfiles.parent / "clean.lock"
    cleaned = run_aardcheck(
        "clean", "-n", net, "--lock-file", lock, "--textfile-dir", textfiles, host=host
    )
    texts["clean"] = Path(textfiles / "aardcheck-clean.prom").read_text()
    yield LiveOutputs(
        network=net,
        container_ids=(live.id, stale.container_id),
        texts=texts,
        check_exit=checked.returncode,
        clean_exit=cleaned.returncode,
        lines_after_clean=tuple(host.aardvark_lines(net)),
    )
