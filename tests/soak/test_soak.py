"""The churn soak, short (CI): containers and networks churn under a probing watcher,
natural stale lines are planted; no false alarm, no missed line, no fd growth, no
container namespace left pinned. Latency and resource figures are the benchmark's
(``python -m bench --only soak``), not asserted here."""

from __future__ import annotations

import json
import sys

import pytest

from tests.realpodman import PodmanHost
from tests.soak.churn import Soak, SoakPlan, watch_args
from tests.watch.process import WatchProcess

pytestmark = pytest.mark.podman

#: ~75 s of churn: two planted lines, one network re-created, some 40 podman actions.
CI_PLAN = SoakPlan(networks=3, members=2, seconds=75.0, plant_every=30.0, recreate_every=35.0)
#: fds the watcher may gain over the soak (a reconnect in flight at the last sample).
FD_SLACK = 4


@pytest.mark.parametrize("mode", ["rootful", "rootless"])
def test_churn_soak(mode: str, request: pytest.FixtureRequest) -> None:
    host: PodmanHost = request.getfixturevalue(f"{mode}_host")
    soak = Soak(host, CI_PLAN, lambda line: print(line, file=sys.stderr))
    watcher = WatchProcess(host, *watch_args(soak))
    try:
        watcher.wait_ready()
        result = soak.run(watcher)
    finally:
        watcher.kill()
    shown = json.dumps(result, indent=1)
    print(shown, file=sys.stderr)  # the figures, for the log (-s)
    assert result["planted"] >= 1, shown
    assert result["false_alarms"] == {}, f"{shown}\n{watcher.output()}"
    assert result["missed"] == [], f"{shown}\n{watcher.output()}"
    fds = result["fds"]
    assert fds["last"] <= fds["first"] + FD_SLACK, shown
    assert result["pinned"] == [], shown
