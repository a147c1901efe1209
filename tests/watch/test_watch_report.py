"""The watcher against real podman: a natural stale entry is reported in every output
(text, JSON, metrics endpoint, textfile) and resolves after ``aardcheck fix``."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.realpodman import PodmanHost, run_aardcheck, wait_until
from tests.watch.conftest import StartWatch
from tests.watch.process import WatchProcess
from tests.watch.stale import plant_dead_stale

pytestmark = pytest.mark.podman

NetName = Callable[[str], str]


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
    return body.decode()


def finding_series(text: str, network: str, kind: str) -> float | None:
    rx = re.compile(
        rf'^aardcheck_findings\{{kind="{re.escape(kind)}",network="{re.escape(network)}"\}} (\S+)$',
        re.MULTILINE,
    )
    match = rx.search(text)
    return float(match.group(1)) if match else None


def fix_with_cli(host: PodmanHost, network: str) -> None:
    """``aardcheck fix`` of one network; a busy shared host may fail a listing (exit 3):
    a few bounded tries."""
    for _ in range(3):
        fixed = run_aardcheck("fix", "--yes", "--no-probe", "--network", network, host=host)
        if fixed.returncode in (0, 1):
            return
    raise AssertionError(f"aardcheck fix failed (exit {fixed.returncode}): {fixed.stderr}")


def assert_clean_exit(watcher: WatchProcess, sig: signal.Signals = signal.SIGTERM) -> None:
    code, seconds, left = watcher.stop(sig)
    assert code == 0, watcher.output()
    assert seconds < 10, f"took {seconds:.1f} s to stop\n{watcher.output()}"
    assert left == [], f"processes left behind: {left}\n{watcher.output()}"
    watcher.wait_stderr(r"stopped$", 5)
    assert "threads still running" not in watcher.output()


def test_stale_entry_reported_everywhere_and_resolved_by_fix(
    rootful_host: PodmanHost, net_name: NetName, start_watch: StartWatch, tmp_path: Path
) -> None:
    host = rootful_host
    net = host.network_create(net_name("rep"))
    host.run(host.session.new_name("live"), {net: ["app"]})
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    common = ("--network", net, "--interval", "600")
    text = start_watch(host, *common)
    as_json = start_watch(host, *common, "--format", "json")
    served = start_watch(host, *common, "--metrics-port", "0")
    to_file = start_watch(host, *common, "--textfile-dir", str(textfile_dir))
    for watcher in (text, as_json, served, to_file):
        watcher.wait_ready()
    url = served.wait_stderr(r"metrics on (http://127\.0\.0\.1:\d+/metrics)").split()[-1]
    assert finding_series(scrape(url), net, "dead-entry") is None

    stale = plant_dead_stale(host, doomed.name)
    short = stale.short_id

    line = text.wait_stderr(rf"appeared: \S+ dead-entry network={net} .*container={short}")
    assert stale.ips[net] in line
    _, doc = as_json.wait_json(
        lambda d: d["event"] == "appeared" and d["finding"]["container_id"] == stale.container_id
    )
    assert doc["schema"] == "aardcheck.watch/1"
    assert doc["finding"]["kind"] == "dead-entry"
    assert doc["finding"]["network"] == net
    served.wait_stderr(rf"appeared: \S+ dead-entry network={net} ")
    assert finding_series(scrape(url), net, "dead-entry") == 1
    to_file.wait_stderr(rf"appeared: \S+ dead-entry network={net} ")
    prom = textfile_dir / "aardcheck.prom"
    wait_until(
        lambda: finding_series(prom.read_text(), net, "dead-entry") == 1,
        timeout=10,
        what="the textfile to count the dead entry",
    )
    before = len(text.stderr.items)

    fix_with_cli(host, net)
    assert stale.container_id not in host.aardvark_ids(net)

    text.wait_stderr(rf"resolved: dead-entry network={net} .*container={short}", after=before)
    as_json.wait_json(
        lambda d: d["event"] == "resolved" and d["finding"]["container_id"] == stale.container_id
    )
    served.wait_stderr(rf"resolved: dead-entry network={net} ")
    assert finding_series(scrape(url), net, "dead-entry") is None
    to_file.wait_stderr(rf"resolved: dead-entry network={net} ")
    wait_until(
        lambda: finding_series(prom.read_text(), net, "dead-entry") is None,
        timeout=10,
        what="the textfile to drop the dead entry",
    )
    # one line when it appears and one when it resolves, not one per pass
    ours = [ln for _, ln in text.stderr.items if "dead-entry" in ln and short in ln]
    assert [ln.split(": ")[1] for ln in ours] == ["appeared", "resolved"], text.output()
    for watcher in (text, as_json, served, to_file):
        assert_clean_exit(watcher)
    assert [p.name for p in textfile_dir.iterdir()] == ["aardcheck.prom"]


def test_systemd_notify_and_sigint(
    rootful_host: PodmanHost, start_watch: StartWatch, tmp_path: Path
) -> None:
    """READY=1 after the first check, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1 on
    SIGINT (a terminal's Ctrl-C ends it as cleanly as systemd's SIGTERM)."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(60)
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
        watcher = start_watch(rootful_host, "--interval", "600", env=env)
        got: list[str] = []
        for _ in range(200):  # pings may come during the first check too, before READY
            got.append(sock.recv(4096).decode())
            ready = [i for i, m in enumerate(got) if m.startswith("READY=1")]
            if ready and got[ready[0] + 1 :].count("WATCHDOG=1") >= 2:
                break
        assert got[ready[0]].startswith("READY=1\nSTATUS=ready: watching"), got
        assert set(got) <= {got[ready[0]], "WATCHDOG=1"}, got
        watcher.wait_ready()
        assert_clean_exit(watcher, signal.SIGINT)
        rest = []
        with contextlib.suppress(TimeoutError):
            sock.settimeout(0.5)
            while True:
                rest.append(sock.recv(4096).decode())
        assert rest[-1] == "STOPPING=1", rest
