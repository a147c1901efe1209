"""The watcher's answers: which state is fresh enough to answer from, how narrower checks
are laid over the last full one, and the socket's owner-only exchange."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import ProbeSkipped, RunDir, Scope, Snapshot
from aardcheck.sources import watcher as client
from aardcheck.watch.answer import AnswerServer, AnswerState, View
from aardcheck.watch.answer_commands import served_result
from tests.scenario_loader import load_scenario


def snapshot() -> Snapshot:
    """A scenario whose run directory holds nothing and has no podman event log (a
    rootless uid without one): only the events a test records count."""
    snap = load_scenario("healthy")
    nowhere = RunDir(Path("/nonexistent/aardcheck-test"), Scope.ROOTLESS, 4242424)
    return replace(snap, directory=replace(snap.directory, run_dir=nowhere))


def now() -> float:
    return time.monotonic()


def result(snap: Snapshot, *skipped: str) -> CheckResult:
    snap = replace(snap, probe_skipped=tuple(ProbeSkipped(n, "test") for n in skipped))
    return CheckResult(snap, (), CheckContext(run_dir="/x", scope="rootful"))


def test_nothing_to_answer_before_the_first_check() -> None:
    assert AnswerState().view(None) == "no check has finished yet"


def test_an_event_after_the_check_makes_its_network_stale() -> None:
    state = AnswerState()
    state.checked(result(snapshot()), None, started=now())
    assert isinstance(state.view(None), View)
    state.request(frozenset({"a"}))
    assert "network a" in str(state.view(None))
    assert "network a" in str(state.view(frozenset({"a"})))
    assert isinstance(state.view(frozenset({"b"})), View)  # other networks still answer
    state.checked(result(snapshot(), "a"), frozenset({"a"}), started=now())
    assert isinstance(state.view(None), View)


def test_an_event_for_every_network_needs_a_full_check() -> None:
    state = AnswerState()
    state.checked(result(snapshot()), None, started=now())
    state.request(None)
    state.checked(result(snapshot()), frozenset({"a"}), started=now())
    assert "every network" in str(state.view(frozenset({"b"})))
    state.checked(result(snapshot()), None, started=now())
    assert isinstance(state.view(frozenset({"b"})), View)


def test_a_container_event_counts_for_its_networks_only() -> None:
    state = AnswerState()
    state.checked(result(snapshot()), None, started=now())
    state.podman_event(None)  # a container no check knew: no line the state could judge
    assert isinstance(state.view(None), View)
    state.podman_event(frozenset({"a"}))
    assert "network a" in str(state.view(None))
    assert isinstance(state.view(frozenset({"b"})), View)


def test_a_narrow_check_replaces_only_its_networks() -> None:
    state = AnswerState()
    state.checked(result(snapshot(), "a", "b"), None, started=now())
    state.checked(result(snapshot(), "a", "c"), frozenset({"a"}), started=now())
    view = state.view(None)
    assert isinstance(view, View)
    assert sorted(s.network for s in view.snapshot.probe_skipped) == ["a", "b"]


def test_a_served_result_is_narrowed_like_a_cold_one() -> None:
    view = View(result(snapshot(), "a", "b").snapshot, CheckContext("/x", "rootful"), 0.0)
    narrowed = served_result(view, frozenset({"a"}), probe=True, started=0.0)
    assert [s.network for s in narrowed.snapshot.probe_skipped] == ["a"]
    assert narrowed.snapshot.selected == frozenset({"a"})
    unprobed = served_result(view, frozenset(), probe=False, started=0.0)
    assert unprobed.snapshot.probe_skipped == () and not unprobed.snapshot.probed
    assert unprobed.snapshot.podman.api_requests == 0


@pytest.fixture
def socket_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "answer" / "watch.sock"
    monkeypatch.setenv("AARDCHECK_ANSWER_SOCKET", str(path))
    return path


def test_the_socket_is_owner_only_and_answers(socket_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return {"exit": 1, "stdout": "out\n", "stderr": ""}

    server = AnswerServer(handle)
    assert "answering" in server.start()
    try:
        assert stat.S_IMODE(os.lstat(socket_path).st_mode) == 0o600
        assert client.ask(["check", "--format", "json"], timeout=2) == (1, "out\n", "")
        assert seen[0]["argv"] == ["check", "--format", "json"]
        assert seen[0]["cwd"] == os.getcwd()
        second = AnswerServer(handle)
        assert "another watcher" in second.start()  # the first keeps its socket
    finally:
        server.close()
    assert not socket_path.exists()


def test_a_decline_or_silence_means_cold(socket_path: Path) -> None:
    server = AnswerServer(lambda request: {"declined": "stale"})
    server.start()
    try:
        assert client.ask(["check"], timeout=2) is None
    finally:
        server.close()
    assert client.ask(["check"], timeout=2) is None  # nobody listening


def test_only_served_commands_without_cold_options_ask() -> None:
    assert client.wants_watcher(["check", "--format", "json"])
    assert not client.wants_watcher(["check", "--no-watcher"])
    assert not client.wants_watcher(["check", "--help"])
    assert not client.wants_watcher(["fix", "--yes"])
    assert not client.wants_watcher([])


def test_a_socket_of_another_user_is_not_trusted(socket_path: Path) -> None:
    server = AnswerServer(lambda request: {"exit": 0, "stdout": "", "stderr": ""})
    server.start()
    try:
        if os.geteuid() != 0:
            pytest.skip("needs root to give the socket away")
        os.chown(socket_path, 65534, 65534)
        assert client.ask(["check"], timeout=2) is None
    finally:
        server.close()


def test_a_silence_found_by_the_short_wait_is_not_served_until_confirmed() -> None:
    """The watcher waits 0.3 s for an ARP reply, a cold check 1.5 s: what the short wait
    found silent might answer a cold check, so it is not served until a check with the
    cold wait (the watcher's follow-up) agrees."""
    from ipaddress import ip_address

    from aardcheck.models import AddressLiveness, Liveness
    from aardcheck.watch.answer_commands import COLD_LIVENESS_WAIT, Declined

    net = snapshot().directory.files[0].network
    silent = AddressLiveness(net, ip_address("10.89.0.9"), Liveness.SILENT, "no reply")
    snap = replace(snapshot(), liveness=(silent,))
    state = AnswerState()
    state.checked(result(snap), None, started=now(), liveness_wait=0.3)
    view = state.view(None)
    assert isinstance(view, View)
    with pytest.raises(Declined, match=f"network {net} was found silent"):
        served_result(view, frozenset(), probe=False, started=0.0)
    served_result(view, frozenset({"other"}), probe=False, started=0.0)  # not asked: fine
    state.checked(result(snap), frozenset({net}), started=now(), liveness_wait=COLD_LIVENESS_WAIT)
    confirmed = state.view(None)
    assert isinstance(confirmed, View)
    assert served_result(confirmed, frozenset(), probe=False, started=0.0).snapshot.liveness


def test_requests_are_read_by_the_cold_paths_own_parser() -> None:
    """Plain argv is parsed as the typer-free front parses it; anything that front leaves
    to typer (help, usage errors) is declined, so the cold run prints typer's words."""
    from aardcheck.cli.common import OutputFormat
    from aardcheck.runner.options import CheckOptions
    from aardcheck.watch.answer_commands import Answers, Declined
    from aardcheck.watch.options import WatchOptions

    answers = Answers(AnswerState(), WatchOptions(check=CheckOptions()))
    name, params = answers._parse(["check", "-n", "a", "--format=json", "--no-probe"])
    assert name == "check" and params["network"] == ["a"] and params["no_probe"]
    assert params["output"] is OutputFormat.json
    for argv in (["check", "--help"], ["check", "--bogus"], ["fix"], ["clean", "--wait", "-1"]):
        with pytest.raises(Declined):
            answers._parse(argv)
