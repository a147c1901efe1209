"""On real podman: what a running watcher answers for ``check`` and ``clean`` equals what
the command computes cold, also right after a stale line appears."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.realpodman import PodmanHost, run_aardcheck
from tests.watch.conftest import StartWatch
from tests.watch.stale import plant_dead_stale

NetName = Callable[[str], str]

#: What legitimately differs between two runs: who asked podman, how long it took, and
#: host-wide counts that other users of a shared test host move between the two runs.
VOLATILE = (
    ("host", "api_url"),
    ("host", "private_api"),
    ("checked", "duration_s"),
    ("checked", "api_requests"),
    ("checked", "containers"),
    ("checked", "files"),
)


def comparable(proc: subprocess.CompletedProcess[str]) -> tuple[int, dict[str, Any]]:
    doc = json.loads(proc.stdout)
    doc.pop("served_by", None)
    for outer, inner in VOLATILE:
        doc[outer].pop(inner)
    for probe in doc["probes"]:
        for attempt in probe["tries"]:
            attempt.pop("latency_ms")
    return proc.returncode, doc


def served(proc: subprocess.CompletedProcess[str]) -> bool:
    return "served_by" in json.loads(proc.stdout)


@pytest.mark.parametrize("who", ["rootful", pytest.param("rootless", marks=pytest.mark.rootless)])
def test_answers_equal_a_cold_run(
    who: str,
    request: pytest.FixtureRequest,
    net_name: NetName,
    start_watch: StartWatch,
    tmp_path: Path,
) -> None:
    host: PodmanHost = request.getfixturevalue(f"{who}_host")
    net = host.network_create(net_name("ans"))
    host.run(host.session.new_name("live"), {net: ["app"]})
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    # root: a socket of this test's own; a throw-away user: the default, in its runtime dir
    env = {} if host.rootless else {"AARDCHECK_ANSWER_SOCKET": str(tmp_path / "watch.sock")}
    watcher = start_watch(host, "--network", net, "--interval", "600", env=env)
    watcher.wait_ready()

    def both(*args: str) -> tuple[subprocess.CompletedProcess[str], ...]:
        argv = ("check", "--network", net, "--format", "json", *args)
        warm = run_aardcheck(*argv, host=host, env=env)
        cold = run_aardcheck(*argv, "--no-watcher", host=host, env=env)
        return warm, cold

    def until_served(*args: str, finding: str = "") -> dict[str, Any]:
        """Warm and cold side by side until the watcher answers (on a shared host other
        users' containers keep its state stale at times): always the same result."""
        deadline = time.monotonic() + 60
        while True:
            warm, cold = both(*args)
            assert not served(cold)
            assert comparable(warm) == comparable(cold)
            doc: dict[str, Any] = json.loads(warm.stdout)
            if served(warm) and finding in {"", *(f["kind"] for f in doc["findings"])}:
                return doc
            assert time.monotonic() < deadline, "the watcher never answered"

    for args in ((), ("--no-probe",)):
        assert until_served(*args)["summary"]["exit_code"] == 0

    stale = plant_dead_stale(host, doomed.name)
    doc = until_served("--no-probe", finding="dead-entry")  # from right after it appeared
    assert stale.container_id in {f["container_id"] for f in doc["findings"]}

    dry = ("clean", "--network", net, "--dry-run")
    warm_clean = run_aardcheck(*dry, host=host, env=env)
    cold_clean = run_aardcheck(*dry, "--no-watcher", host=host, env=env)
    assert (warm_clean.returncode, warm_clean.stdout) == (cold_clean.returncode, cold_clean.stdout)
    assert "would prune" in warm_clean.stdout


def test_preflight_answer_equals_a_cold_one(
    rootful_host: PodmanHost, start_watch: StartWatch, tmp_path: Path
) -> None:
    from tests.places.stack import Stack

    host = rootful_host
    stack = Stack(host)
    stack.up()
    env = {"AARDCHECK_ANSWER_SOCKET": str(tmp_path / "watch.sock")}
    watcher = start_watch(host, "--network", stack.network, "--no-probe", env=env)
    watcher.wait_ready()
    argv = ("preflight", *stack.args, "--format", "json")
    deadline = time.monotonic() + 60
    while True:
        warm = run_aardcheck(*argv, host=host, env=env)
        cold = run_aardcheck(*argv, "--no-watcher", host=host, env=env)
        warm_doc, cold_doc = json.loads(warm.stdout), json.loads(cold.stdout)
        answered = warm_doc.pop("served_by", None) is not None
        for doc in (warm_doc, cold_doc):
            doc.get("host", {}).pop("api_url", None)
            doc.get("host", {}).pop("private_api", None)
        assert (warm.returncode, warm_doc) == (cold.returncode, cold_doc)
        if answered:
            break
        assert time.monotonic() < deadline, "the watcher never answered"
