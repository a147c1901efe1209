"""``watch --fix`` prunes a natural stale entry by itself; a burst of container churn
costs a bounded number of checks and the final state is still reported."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.realpodman import PodmanHost
from tests.watch.conftest import StartWatch
from tests.watch.stale import plant_dead_stale
from tests.watch.test_watch_report import assert_clean_exit

pytestmark = pytest.mark.podman

NetName = Callable[[str], str]
BURST = 10


def test_fix_prunes_a_stale_entry_automatically(
    rootful_host: PodmanHost, net_name: NetName, start_watch: StartWatch
) -> None:
    host = rootful_host
    net = host.network_create(net_name("fix"))
    host.run(host.session.new_name("live"), {net: ["app"]})
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    watcher = start_watch(host, "--fix", "--network", net, "--interval", "600")
    watcher.wait_ready()

    stale = plant_dead_stale(host, doomed.name)
    short = stale.short_id
    watcher.wait_stderr(rf"appeared: \S+ dead-entry network={net} .*container={short}")
    watcher.wait_stderr(rf"repair done: prune-lines .*{net}")
    watcher.wait_stderr(rf"resolved: dead-entry network={net} .*container={short}")
    assert stale.container_id not in host.aardvark_ids(net)
    assert host.aardvark_ids(net), "the live container must keep its line"
    assert "repair failed: prune-lines" not in watcher.output()
    assert_clean_exit(watcher)


def _checks(lines: list[tuple[float, str]]) -> list[tuple[int, int]]:
    """(check number, events so far) of every ``--verbose`` check line."""
    rx = re.compile(r"check #(\d+) .* (\d+) event\(s\) so far")
    found = [rx.search(line) for _, line in lines]
    return [(int(m.group(1)), int(m.group(2))) for m in found if m]


def test_burst_is_debounced_and_the_final_state_reported(
    rootful_host: PodmanHost, net_name: NetName, start_watch: StartWatch
) -> None:
    host = rootful_host
    net = host.network_create(net_name("burst"))
    host.run(host.session.new_name("live"), {net: ["app"]})
    watcher = start_watch(host, "-v", "--network", net, "--interval", "600", "--no-probe")
    watcher.wait_ready()
    before = _checks(watcher.stderr.items)[-1]

    names = [host.session.new_name("churn") for _ in range(BURST)]
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        created = list(pool.map(lambda n: host.run(n, {net: ["worker"]}), names))
        list(pool.map(lambda c: host.rm(c.name), created[1:]))
    stale = host.make_natural_stale(created[0].name)

    # dead-entry, or unknown-entry while another API service still holds its netns
    appeared_rx = rf"appeared: \S+ (dead|unknown)-entry network={net} .*container={stale.short_id}"
    watcher.wait_stderr(appeared_rx)
    # the check's own summary line follows its report lines: wait for it, or the
    # count read here may still be the one before the burst
    at = next(i for i, (_, ln) in enumerate(watcher.stderr.items) if re.search(appeared_rx, ln))
    watcher.wait_stderr(r"check #\d+ .* event\(s\) so far", after=at + 1)
    after = _checks(watcher.stderr.items)[-1]
    checks, events = after[0] - before[0], after[1] - before[1]
    print(f"burst of {BURST} containers: {checks} check(s) for {events} event(s)")
    assert events >= 3 * BURST, watcher.output()  # start, died, remove at least
    assert checks <= BURST + 2, watcher.output()
    assert checks * 3 <= events, watcher.output()
    # nothing of the churn is left reported: whatever appeared for a moment resolved
    appeared = {
        ln.split(" container=")[1].split()[0]
        for _, ln in watcher.stderr.items
        if "appeared:" in ln and " container=" in ln
    }
    resolved = {
        ln.split(" container=")[1].split()[0]
        for _, ln in watcher.stderr.items
        if "resolved:" in ln and " container=" in ln
    }
    assert appeared - resolved == {stale.short_id}, watcher.output()
    assert_clean_exit(watcher)
