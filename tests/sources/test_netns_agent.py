"""The namespace agent and its runner, without podman: bad jobs, deadlines, refusals."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any

import pytest

from aardcheck.models import ProbeAnswer, ProbeStatus, ProbeTry
from aardcheck.sources import netns
from aardcheck.sources.netns import AGENT_PATH, Entry, entry_for, run_agent

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="entering a namespace needs root")
OWN_NETNS = f"/proc/{os.getpid()}/ns/net"


def agent(job_text: str, timeout: float = 10) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(AGENT_PATH)],
        input=job_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A UDP port on loopback that receives and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.2", 0))
    yield "127.0.0.2", sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize(
    "job",
    [
        "not json",
        "[]",
        '{"tasks": []}',
        '{"budget": 1}',
        '{"budget": 1, "tasks": [{"kind": "bogus"}]}',
        '{"budget": 1, "tasks": [{"kind": "dns", "server": "10.0.0.1"}]}',
        '{"budget": 1, "tasks": [{"kind": "dns", "server": "x", "queries": ["zz"]}]}',
        '{"budget": 1, "tasks": [{"kind": "neigh", "interface": "x", "addresses": ["nope"]}]}',
        '{"budget": 1, "tasks": [{"kind": "neigh", "interface": "x", "addresses": [],'
        ' "timeout": 0}]}',
    ],
)
def test_a_malformed_job_gets_an_error_reply(job: str) -> None:
    code, reply = agent(job)
    assert code == 2
    assert set(reply) == {"error"}
    assert str(reply["error"]).startswith("bad job")


def test_an_empty_job_is_answered_at_once() -> None:
    started = time.monotonic()
    assert agent('{"budget": 5, "tasks": []}') == (0, {"tasks": []})
    assert time.monotonic() - started < 2


def test_a_vanished_namespace_is_a_task_error_not_a_failure(tmp_path: os.PathLike[str]) -> None:
    not_a_netns = os.path.join(tmp_path, "plain-file")
    with open(not_a_netns, "w"):
        pass
    tasks = [
        {"kind": "dns", "netns": os.path.join(tmp_path, "gone"), "server": "10.0.0.1",
         "queries": []},
        {"kind": "dns", "netns": not_a_netns, "server": "10.0.0.1", "queries": []},
    ]  # fmt: skip
    gone, plain = run_agent(Entry(), tasks, budget=2)
    assert "vanished" in str(gone["error"])
    assert "not a network namespace" in str(plain["error"]) or "permission" in str(plain["error"])


@needs_root
def test_a_silent_server_times_out_within_the_budget(silent_server: tuple[str, int]) -> None:
    host, port = silent_server
    queries = [(i).to_bytes(2, "big").hex() + "0100000100000000000003617070000001" + "0001"
               for i in range(200)]  # fmt: skip
    task = {"kind": "dns", "netns": OWN_NETNS, "server": host, "port": port,
            "timeout": 0.3, "window": 16, "queries": queries}  # fmt: skip
    started = time.monotonic()
    (result,) = run_agent(Entry(), [task], budget=1.0)
    elapsed = time.monotonic() - started
    assert result["error"] is None
    replies = result["replies"]
    assert isinstance(replies, list) and len(replies) == 200
    assert all(r["error"] == "timeout" for r in replies)
    # the first window waited out its timeout; the rest were not even sent
    assert sum(1 for r in replies if "not sent" in r.get("detail", "")) == 200 - 16
    assert elapsed < 1.0 + 1.0  # 0.3 s of waiting, plus the agent's start


def test_a_refused_entry_never_starts_an_agent() -> None:
    entry = Entry(refusal="no way in")
    assert run_agent(entry, [{"kind": "dns"}, {"kind": "neigh"}], budget=1) == [
        {"error": "no way in"},
        {"error": "no way in"},
    ]


def test_entry_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert entry_for(None) == Entry()
    assert entry_for(1001) == Entry()  # root enters a rootless user's namespaces directly
    monkeypatch.setattr(os, "geteuid", lambda: 1001)
    assert entry_for(1001) == Entry(unshare=True)
    assert entry_for(1002).refusal
    assert netns.agent_command(Entry(unshare=True))[:2] == ["podman", "unshare"]


def test_a_crashing_agent_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "agent_command", lambda entry: [sys.executable, "-c", "exit(3)"])
    (result,) = run_agent(Entry(), [{"kind": "dns"}], budget=1)
    assert "exit 3" in str(result["error"])


@needs_root
def test_asking_as_an_address_the_namespace_lacks_is_refused(
    silent_server: tuple[str, int],
) -> None:
    host, port = silent_server
    task = {"kind": "dns", "netns": OWN_NETNS, "server": host, "port": port,
            "bind": "10.255.0.77", "queries": []}  # fmt: skip
    (result,) = run_agent(Entry(), [task], budget=1.0)
    assert result == {"error": "the namespace does not hold 10.255.0.77: not the member's"}


def _queries(count: int) -> list[str]:
    return [(i).to_bytes(2, "big").hex() + "0100000100000000000003617070000001" + "0001"
            for i in range(count)]  # fmt: skip


def test_a_stopped_run_ends_at_once_and_leaves_no_agent(silent_server: tuple[str, int]) -> None:
    """The watcher's check that stops its probe kills the agents: the run returns in
    milliseconds, each task says it was stopped, and no agent process is left."""
    host, port = silent_server
    task = {"kind": "dns", "netns": None, "server": host, "port": port,
            "timeout": 5.0, "queries": _queries(2)}  # fmt: skip
    stopper = netns.Stopper()
    spawned: list[subprocess.Popen[str]] = []
    real_started = stopper.started

    def started(proc: subprocess.Popen[str]) -> None:
        spawned.append(proc)
        real_started(proc)

    stopper.started = started  # type: ignore[method-assign]
    threading.Timer(0.5, stopper.stop).start()
    began = time.monotonic()
    results = netns.run_agents([(Entry(), [task]), (Entry(), [task])], budget=6.0, stopper=stopper)
    assert time.monotonic() - began < 3.0  # not the 5 s timeout
    assert results == [[{"error": netns.STOPPED}], [{"error": netns.STOPPED}]]
    assert len(spawned) == 2 and all(p.returncode is not None for p in spawned)
    # a run asked for after the stop starts nothing
    assert run_agent(Entry(), [task], budget=1.0, stopper=stopper) == [{"error": netns.STOPPED}]
    assert len(spawned) == 2


def test_a_stopped_probe_skips_its_retry() -> None:
    """A stop during the pause before a silent network's second attempt ends the probe."""
    from aardcheck.sources import probe

    host = "10.89.0.1"
    stopper = netns.Stopper()
    target = probe.ProbeTarget("n", ip_address(host), "", ("web",))
    calls: list[int] = []

    def ask(plans: Any, timeout: float, stop: netns.Stopper) -> Any:
        calls.append(1)
        threading.Timer(0.05, stop.stop).start()  # during the retry pause
        silent = ProbeTry(ProbeStatus.TIMEOUT)
        return {
            id(p): ([ProbeAnswer("n", "web", "A", ip_address(host), (silent,))], None)
            for p in plans
        }

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(probe, "_ask", ask)
        began = time.monotonic()
        answers, skipped = probe.probe_networks([target], stopper=stopper)
    assert calls == [1] and time.monotonic() - began < probe.RETRY_PAUSE
    assert answers == () and len(skipped) == 1
