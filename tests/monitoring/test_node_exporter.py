"""The textfile path end to end: Debian's node_exporter reads the watcher's, check's
and clean's files from one directory without an error and serves their series."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitoring.conftest import LiveOutputs, has_sample, scrape
from tests.monitoring.promtool import host_tool
from tests.realpodman import wait_until

pytestmark = pytest.mark.podman
FILES = {
    "watch": "aardcheck.prom",
    "check": "aardcheck-check.prom",
    "clean": "aardcheck-clean.prom",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def node_exporter(directory: Path) -> Iterator[str]:
    """node_exporter with only the textfile collector, on loopback; yields its URL."""
    program = host_tool("prometheus-node-exporter", "prometheus-node-exporter")
    port = free_port()
    argv = [
        program,
        "--collector.disable-defaults",
        "--collector.textfile",
        f"--collector.textfile.directory={directory}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def answering() -> bool:
        if process.poll() is not None:
            why = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise AssertionError(f"node_exporter exited: {why}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError):
            scrape(url)
            return True
        return False

    try:
        wait_until(answering, timeout=20, what="node_exporter to answer")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_node_exporter_serves_all_three_files(live_outputs: LiveOutputs, tmp_path: Path) -> None:
    for source, name in FILES.items():
        (tmp_path / name).write_text(live_outputs.texts[source])
    with node_exporter(tmp_path) as url:
        text = scrape(url)
    assert has_sample(text, "node_textfile_scrape_error") == 0, text
    for name in FILES.values():
        assert has_sample(text, "node_textfile_mtime_seconds", file=str(tmp_path / name))
    net = live_outputs.network
    assert has_sample(text, "aardcheck_findings", network=net, kind="dead-entry", command="check")
    assert has_sample(text, "aardcheck_last_check_success", command="clean") == 1
    assert has_sample(text, "aardcheck_probe_answers_total", network=net, status="answer")
