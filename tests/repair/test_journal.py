"""The re-create journal and what it records: pure pieces, no podman needed."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.repair import journal as jr
from aardcheck.repair.journal import Journal, Mode, Step, StepKind, StepStatus
from aardcheck.repair.locks import LockTimeout
from aardcheck.repair.recorded import (
    BRIDGE_NAME,
    RecordedContainer,
    definition_of,
    describe,
    recorded_container,
    same_definition,
    settings_mismatch,
    static_from_create_command,
)
from aardcheck.repair.recreate_steps import PodmanCalls, run_step

WEB = "a1" * 32
DB = "b2" * 32
NET = "proj_default"
NETWORK_JSON: dict[str, Any] = {
    "name": NET,
    "id": "c3" * 32,
    "driver": "bridge",
    "network_interface": "podman7",
    "created": "2026-01-01T00:00:00Z",
    "subnets": [{"subnet": "10.90.1.0/24", "gateway": "10.90.1.1"}],
    "ipv6_enabled": False,
    "internal": False,
    "dns_enabled": True,
    "labels": {"io.podman.compose.project": "proj", "com.docker.compose.project": "proj"},
    "options": {"mtu": "1400"},
    "ipam_options": {"driver": "host-local"},
}


def _inspect(
    cid: str,
    name: str,
    settings: dict[str, Any],
    *,
    running: bool = True,
    create: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "Id": cid,
        "Name": name,
        "State": {"Running": running, "Status": "running" if running else "exited"},
        "Config": {"CreateCommand": create or []},
        "NetworkSettings": {"Networks": {NET: settings}},
    }


def _journal() -> Journal:
    containers = (
        RecordedContainer(WEB, "proj_web_1", ("web",), ("10.90.1.2",), "aa:bb:cc:dd:ee:01", True),
        RecordedContainer(
            DB, "proj_db_1", ("db", "database"), ("10.90.1.10",), "", False, "create-command"
        ),
    )
    return Journal(
        network=NET,
        original_id=NETWORK_JSON["id"],
        definition=definition_of(NETWORK_JSON),
        containers=containers,
        steps=jr.forward_steps(containers),
        run_dir="/run/containers/networks",
        podman_lock="/etc/containers/networks/netavark.lock",
        reason="on request",
        pid=42,
        api_url="unix:///run/podman/podman.sock",
    )


# ---- the journal document -------------------------------------------------------------


def test_forward_steps_disconnect_all_then_rebuild_then_reconnect_all() -> None:
    kinds = [(s.kind, s.container[:2]) for s in _journal().steps]
    assert kinds == [
        (StepKind.DISCONNECT, "a1"),
        (StepKind.DISCONNECT, "b2"),
        (StepKind.REMOVE_NETWORK, ""),
        (StepKind.DELETE_FILE, ""),
        (StepKind.CREATE_NETWORK, ""),
        (StepKind.CONNECT, "a1"),
        (StepKind.CONNECT, "b2"),
    ]


def test_round_trip_keeps_everything() -> None:
    j = _journal().with_step(0, StepStatus.DONE, "disconnected")
    doc = json.loads(json.dumps(jr.to_json(j)))
    again = jr.from_json(doc)
    assert again == j
    assert doc["definition"]["labels"] == NETWORK_JSON["labels"]
    assert "id" not in doc["definition"] and "created" not in doc["definition"]
    assert doc["schema"] == jr.SCHEMA


def test_unknown_keys_survive_a_rewrite() -> None:
    doc = jr.to_json(_journal()) | {"written_by_a_newer_aardcheck": [1, 2]}
    assert jr.to_json(jr.from_json(doc))["written_by_a_newer_aardcheck"] == [1, 2]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(schema="other/9"), "unknown schema"),
        (lambda d: d.update(definition={"name": "elsewhere"}), "another network"),
        (lambda d: d["steps"].append({"kind": "explode"}), "malformed"),
        (lambda d: d["containers"][0].update(aliases="web"), "not a list"),
        (lambda d: d.update(network="../etc", definition={"name": "../etc"}), "network name"),
        (lambda d: d.pop("run_dir"), "run_dir"),
    ],
)
def test_malformed_journals_are_refused_with_the_reason(mutate: Any, message: str) -> None:
    doc = jr.to_json(_journal())
    mutate(doc)
    with pytest.raises(jr.JournalError, match=message):
        jr.from_json(doc)


def test_progress_and_rollback() -> None:
    j = _journal()
    assert not j.complete and not j.step_finished(StepKind.REMOVE_NETWORK)
    for i in range(len(j.steps)):
        j = j.with_step(i, StepStatus.SKIPPED if i == 1 else StepStatus.DONE, "")
    assert j.complete and j.step_finished(StepKind.REMOVE_NETWORK)
    back = _journal().rolled_back()
    assert back.mode is Mode.ROLLBACK
    assert back.steps == (Step(StepKind.CONNECT, WEB), Step(StepKind.CONNECT, DB))


# ---- files, state dir, lock -----------------------------------------------------------


def test_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = jr.journal_path(tmp_path, NET)
    jr.write_journal(path, _journal())
    jr.write_journal(path, _journal().with_step(0, StepStatus.DONE, "x"))
    assert [p.name for p in tmp_path.iterdir()] == [f"recreate-{NET}.json"]
    assert jr.read_journal(path).steps[0].status is StepStatus.DONE
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert jr.pending_journals(tmp_path) == [path]
    jr.remove_journal(path)
    jr.remove_journal(path)  # idempotent
    assert jr.pending_journals(tmp_path) == []


def test_unreadable_journal_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = jr.journal_path(tmp_path, NET)
    path.write_text("{ half a journal")
    with pytest.raises(jr.JournalError, match="not valid JSON"):
        jr.read_journal(path)
    path.unlink()
    path.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(jr.JournalError, match="cannot read"):
        jr.read_journal(path)


def test_journal_path_refuses_names_podman_would_not_accept(tmp_path: Path) -> None:
    for bad in ("", "../x", "a/b", ".hidden", "x y"):
        with pytest.raises(jr.JournalError):
            jr.journal_path(tmp_path, bad)


def test_state_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(jr.STATE_DIR_ENV, str(tmp_path / "explicit"))
    assert jr.state_dir() == tmp_path / "explicit"
    monkeypatch.delenv(jr.STATE_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert jr.state_dir() == tmp_path / "xdg" / "aardcheck"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert jr.state_dir() == tmp_path / "home" / ".local" / "state" / "aardcheck"
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert jr.state_dir() == Path("/var/lib/aardcheck")


def test_state_dir_is_private_and_must_be_a_directory(tmp_path: Path) -> None:
    made = jr.ensure_state_dir(tmp_path / "a" / "state")
    assert oct(made.stat().st_mode & 0o777) == "0o700"
    (tmp_path / "file").write_text("")
    with pytest.raises(EnvironmentUnavailable, match="not a directory"):
        jr.ensure_state_dir(tmp_path / "file")


def test_one_holder_per_network_journal(tmp_path: Path) -> None:
    with jr.journal_lock(tmp_path, NET):
        with (
            pytest.raises(LockTimeout, match=f"re-creating network {NET}"),
            jr.journal_lock(tmp_path, NET, timeout=0.05),
        ):
            pass  # pragma: no cover - never entered
        with jr.journal_lock(tmp_path, "other", timeout=0.05):
            pass  # another network's journal is independent
    with jr.journal_lock(tmp_path, NET, timeout=0.05):
        pass  # released with its descriptor


# ---- what is recorded -----------------------------------------------------------------


def test_definition_drops_only_the_incarnation() -> None:
    definition = definition_of(NETWORK_JSON)
    assert set(NETWORK_JSON) - set(definition) == {"id", "created"}
    recreated = NETWORK_JSON | {"id": "d4" * 32, "created": "later"}
    assert same_definition(recreated, NETWORK_JSON)
    assert same_definition(NETWORK_JSON | {"options": {}}, NETWORK_JSON | {"options": None})
    assert not same_definition(NETWORK_JSON | {"labels": {}}, NETWORK_JSON)
    assert not same_definition(NETWORK_JSON | {"dns_enabled": False}, NETWORK_JSON)
    other_bridge = NETWORK_JSON | {"network_interface": "podman9"}
    assert not same_definition(other_bridge, NETWORK_JSON)
    assert same_definition(other_bridge, NETWORK_JSON, ignore=BRIDGE_NAME)


def test_running_member_records_live_aliases_addresses_and_mac() -> None:
    settings = {
        "IPAddress": "10.90.1.2",
        "MacAddress": "AA:BB:CC:DD:EE:01",
        "Aliases": ["web", "frontend", WEB[:12]],
    }
    rc = recorded_container(_inspect(WEB, "proj_web_1", settings), NET, NETWORK_JSON)
    assert rc == RecordedContainer(
        WEB, "proj_web_1", ("web", "frontend"), ("10.90.1.2",), "aa:bb:cc:dd:ee:01", True, "live"
    )
    assert describe(rc) == (
        "proj_web_1 aliases=web,frontend ips=10.90.1.2 mac=aa:bb:cc:dd:ee:01 running"
    )


def test_dual_stack_and_secondary_addresses_are_all_kept() -> None:
    definition = NETWORK_JSON | {"subnets": [{"subnet": "10.90.1.0/24"}, {"subnet": "fd00::/64"}]}
    settings = {
        "IPAddress": "10.90.1.2",
        "GlobalIPv6Address": "fd00::2",
        "SecondaryIPv6Addresses": [{"Addr": "fd00::9", "PrefixLength": 64}],
        "Aliases": [],
    }
    rc = recorded_container(_inspect(WEB, "w", settings), NET, definition)
    assert rc.static_ips == ("10.90.1.2", "fd00::2", "fd00::9")


def test_stopped_member_takes_its_static_settings_from_the_create_command() -> None:
    create = [
        "podman",
        "create",
        "--name=proj_db_1",
        "--label",
        "x=--ip",
        f"--network={NET}:ip=10.90.1.10,alias=db,alias=database,mac=02:00:00:00:00:0a",
        "localhost/bb",
        "sleep",
        "1000",
    ]
    settings = {"IPAddress": "", "MacAddress": "", "Aliases": ["db", "database", DB[:12]]}
    rc = recorded_container(
        _inspect(DB, "proj_db_1", settings, running=False, create=create), NET, NETWORK_JSON
    )
    assert (rc.aliases, rc.static_ips, rc.static_mac) == (
        ("db", "database"),
        ("10.90.1.10",),
        "02:00:00:00:00:0a",
    )
    assert (rc.running, rc.addresses_from) == (False, "create-command")


@pytest.mark.parametrize(
    ("argv", "ips", "mac"),
    [
        (["--network", f"{NET}:ip=10.90.1.10"], ["10.90.1.10"], ""),
        (
            ["--net", NET, "--ip", "10.90.1.11", "--mac-address=02:00:00:00:00:01"],
            ["10.90.1.11"],
            "02:00:00:00:00:01",
        ),
        (["--network", "other", "--network", NET, "--ip", "10.90.1.11"], [], ""),
        (["--network", "other:ip=10.0.0.5", f"--network={NET}"], [], ""),
        (["--network", NET], [], ""),
        (["--ip"], [], ""),
    ],
)
def test_create_command_static_settings(argv: list[str], ips: list[str], mac: str) -> None:
    assert static_from_create_command(["podman", "run", *argv], NET) == (ips, mac)


def test_addresses_outside_the_network_are_never_pinned() -> None:
    create = ["podman", "create", "--network", f"{NET}:ip=192.168.9.9"]
    rc = recorded_container(
        _inspect(DB, "d", {"Aliases": []}, running=False, create=create), NET, NETWORK_JSON
    )
    assert rc.static_ips == ()


def test_settings_mismatch_names_what_differs() -> None:
    rc = RecordedContainer(WEB, "w", ("web",), ("10.90.1.2",), "aa:bb:cc:dd:ee:01", True)
    same = {
        "IPAddress": "10.90.1.2",
        "MacAddress": "aa:bb:cc:dd:ee:01",
        "Aliases": ["web", WEB[:12]],
    }
    assert settings_mismatch(rc, _inspect(WEB, "w", same), NET) == ""
    other = same | {"IPAddress": "10.90.1.7", "Aliases": [WEB[:12]]}
    why = settings_mismatch(rc, _inspect(WEB, "w", other), NET)
    assert "aliases [] instead of ['web']" in why and "10.90.1.7" in why
    stopped = {"IPAddress": "", "MacAddress": "", "Aliases": ["web"]}
    assert settings_mismatch(rc, _inspect(WEB, "w", stopped, running=False), NET) == ""


# ---- the delete-file step, on a directory of our own (no podman) ---------------------


class _NoNetwork(PodmanCalls):
    """Podman as the delete-file step sees it after the remove: the network is gone."""

    def __init__(self) -> None:
        pass

    def network(self, name: str) -> dict[str, Any] | None:
        return None


def _run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "networks"
    (run_dir / "aardvark-dns").mkdir(parents=True)
    return run_dir


def _delete_step(j: Journal) -> tuple[StepStatus, str, str]:
    j = replace(j, podman_lock=str(j.run_dir) + "/netavark.lock", run_dir_owner=os.geteuid())
    done = run_step(_NoNetwork(), j, Step(StepKind.DELETE_FILE))
    return done.status, done.detail, done.before


def test_delete_file_step_removes_both_files_and_is_idempotent(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    (run_dir / "aardvark-dns" / NET).write_text(f"10.90.1.1\n{WEB} 10.90.1.2  ghost\n")
    (run_dir / "aardvark-dns" / f"{NET}%int").write_text("10.90.1.1\n")
    (run_dir / "aardvark-dns" / "other").write_text("10.90.2.1\n")
    j = replace(_journal(), run_dir=str(run_dir))
    status, detail, before = _delete_step(j)
    assert (status, detail) == (StepStatus.DONE, "deleted the aardvark file")
    assert "ghost" in before
    assert sorted(p.name for p in (run_dir / "aardvark-dns").iterdir()) == ["other"]
    assert _delete_step(j)[:2] == (StepStatus.DONE, "no aardvark file left (netavark removed it)")


def test_delete_file_step_never_follows_a_symlink(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    (run_dir / "aardvark-dns" / NET).symlink_to(precious)
    status, detail, _ = _delete_step(replace(_journal(), run_dir=str(run_dir)))
    assert status is StepStatus.FAILED and "symlink" in detail
    assert precious.read_text() == "keep me\n"
    assert (run_dir / "aardvark-dns" / NET).is_symlink()
