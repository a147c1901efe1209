"""The steps of a network re-create, each idempotent, against podman's REST API.

Every step looks at podman's live state before it acts, so that it can be run again after
a crash at any point: a container already disconnected, a network already removed or
already created with the recorded definition, a container already connected with its
recorded settings all count as done. ``recreate`` drives them and keeps the journal.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.models import INTERNAL_SUFFIX
from aardcheck.repair.files import PinnedRunDir, UnsafeFile
from aardcheck.repair.journal import Journal, Mode, Step, StepKind, StepStatus
from aardcheck.repair.locks import LockTimeout, netavark_locks
from aardcheck.repair.outcome import Change
from aardcheck.repair.recorded import (
    BRIDGE_NAME,
    RecordedContainer,
    definition_of,
    describe,
    same_definition,
    settings_mismatch,
)
from aardcheck.sources.podman_api import PodmanSession

#: Bounded retries of a read that met a server error (about 2 s in all).
READ_RETRIES = 4
READ_RETRY_PAUSE = 0.5


class PodmanCalls:
    """The few libpod calls a re-create needs, with podman's status codes kept."""

    def __init__(self, session: PodmanSession) -> None:
        self.session = session
        self._api = session.client.api

    def _call(self, method: str, path: str, body: object = None, **kw: Any) -> tuple[int, Any]:
        try:
            if method == "POST":
                resp = self._api.post(
                    path,
                    data=json.dumps(body if body is not None else {}),
                    headers={"Content-Type": "application/json"},
                    **kw,
                )
            elif method == "DELETE":
                resp = self._api.delete(path, **kw)
            else:
                resp = self._api.get(path, **kw)
        except Exception as exc:  # the package wraps some errors, requests raises others
            raise EnvironmentUnavailable(
                f"podman API at {self.session.url}: {method} {path} failed: {exc}"
            ) from exc
        try:
            payload = resp.json()
        except ValueError:
            payload = resp.text
        return int(resp.status_code), payload

    def _read(self, path: str, **kw: Any) -> tuple[int, Any]:
        """A GET, retried a few times on a server error: podman fails whole listings while
        one container's state cannot be synced (e.g. its netns just vanished)."""
        code, payload = self._call("GET", path, **kw)
        for _ in range(READ_RETRIES):
            if code < 500:
                break
            time.sleep(READ_RETRY_PAUSE)
            code, payload = self._call("GET", path, **kw)
        return code, payload

    @staticmethod
    def _why(payload: Any) -> str:
        if isinstance(payload, dict):
            return str(payload.get("message") or payload.get("cause") or payload)
        return str(payload).strip()

    def network(self, name: str) -> dict[str, Any] | None:
        code, payload = self._read(f"/networks/{name}/json")
        if code == 404:
            return None
        if code != 200 or not isinstance(payload, dict):
            raise EnvironmentUnavailable(f"inspecting network {name}: {self._why(payload)}")
        return payload

    def members(self, name: str) -> list[str]:
        """Ids of every container (running or not) attached to network ``name``."""
        filters = json.dumps({"network": [name]})  # raw: the package mangles list filters
        code, payload = self._read("/containers/json", params={"all": "true", "filters": filters})
        if code != 200 or not isinstance(payload, list):
            raise EnvironmentUnavailable(f"listing members of {name}: {self._why(payload)}")
        return sorted(str(c.get("Id", "")).lower() for c in payload if c.get("Id"))

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        code, payload = self._read(f"/containers/{container_id}/json")
        if code == 404:
            return None
        if code != 200 or not isinstance(payload, dict):
            raise EnvironmentUnavailable(f"inspecting {container_id[:12]}: {self._why(payload)}")
        return payload

    def change(self, method: str, path: str, body: object = None) -> str:
        """Empty string on success, else podman's reason."""
        code, payload = self._call(method, path, body)
        return "" if 200 <= code < 300 else f"HTTP {code}: {self._why(payload)}"


@dataclass(frozen=True, slots=True)
class StepResult:
    status: StepStatus
    detail: str
    before: str = ""
    after: str = ""


def _attached(inspect: Mapping[str, Any], network: str) -> bool:
    return network in ((inspect.get("NetworkSettings") or {}).get("Networks") or {})


def _live_or_replaced(podman: PodmanCalls, j: Journal) -> tuple[dict[str, Any] | None, str]:
    """The live network and, when it is not the one the journal expects, why."""
    live = podman.network(j.network)
    if live is None:
        return None, ""
    original_expected = j.mode is Mode.ROLLBACK or not j.step_finished(StepKind.REMOVE_NETWORK)
    if original_expected and live.get("id") != j.original_id:
        return live, f"network {j.network} was replaced by someone else meanwhile"
    return live, ""


def _disconnect(podman: PodmanCalls, j: Journal, rc: RecordedContainer) -> StepResult:
    live, replaced = _live_or_replaced(podman, j)
    if live is None:
        return StepResult(StepStatus.DONE, "network already removed")
    if replaced:
        return StepResult(StepStatus.FAILED, replaced)
    inspect = podman.inspect(rc.id)
    if inspect is None:
        return StepResult(StepStatus.SKIPPED, "container no longer exists")
    if not _attached(inspect, j.network):
        return StepResult(StepStatus.DONE, "already disconnected", describe(rc))
    why = podman.change("POST", f"/networks/{j.network}/disconnect", {"container": rc.id})
    if why:
        return StepResult(StepStatus.FAILED, f"disconnect failed: {why}")
    return StepResult(StepStatus.DONE, "disconnected", describe(rc))


def _remove(podman: PodmanCalls, j: Journal) -> StepResult:
    live, replaced = _live_or_replaced(podman, j)
    if live is None:
        return StepResult(StepStatus.DONE, "network already removed")
    if replaced:
        return StepResult(StepStatus.FAILED, replaced)
    members = podman.members(j.network)
    if members:
        strangers = [m[:12] for m in members if j.container(m) is None]
        why = (
            f"container(s) {', '.join(strangers)} joined meanwhile"
            if strangers
            else f"container(s) {', '.join(m[:12] for m in members)} still attached"
        )
        return StepResult(StepStatus.FAILED, f"network not removed: {why}")
    why = podman.change("DELETE", f"/networks/{j.network}")
    if why:
        return StepResult(StepStatus.FAILED, f"removing the network failed: {why}")
    return StepResult(
        StepStatus.DONE,
        f"removed (id {j.original_id[:12]})",
        json.dumps(dict(j.definition), sort_keys=True),
    )


def _aardvark_files(j: Journal) -> list[Path]:
    dns_dir = Path(j.run_dir) / "aardvark-dns"
    return [dns_dir / j.network, dns_dir / f"{j.network}{INTERNAL_SUFFIX}"]


def _delete_files(j: Journal) -> list[str]:
    """Delete the network's regular files in ``aardvark-dns/`` through descriptors pinned
    on the run directory (a symlink swapped in is never followed); their old contents."""
    if not os.path.lexists(Path(j.run_dir) / "aardvark-dns"):
        return []
    removed = []
    with PinnedRunDir(Path(j.run_dir), j.run_dir_owner) as pinned:
        for path in _aardvark_files(j):
            name = pinned.name_of(path)
            try:
                os.lstat(name, dir_fd=pinned.dns_fd)
            except FileNotFoundError:
                continue
            old = pinned.read(name)
            pinned.delete(name, old)
            removed.append(f"{path}:\n{old.content.decode(errors='replace')}")
    return removed


def _delete_file(podman: PodmanCalls, j: Journal) -> StepResult:
    if podman.network(j.network) is not None:
        return StepResult(
            StepStatus.FAILED,
            f"network {j.network} exists again (created by "
            "someone else?); its aardvark file is left alone",
        )
    try:
        with netavark_locks(Path(j.podman_lock), Path(j.run_dir) / "aardvark.lock"):
            removed = _delete_files(j)
    except (UnsafeFile, LockTimeout) as err:
        return StepResult(StepStatus.FAILED, str(err))
    except OSError as err:
        return StepResult(StepStatus.FAILED, f"deleting the aardvark file: {err.strerror or err}")
    if not removed:
        return StepResult(StepStatus.DONE, "no aardvark file left (netavark removed it)")
    return StepResult(StepStatus.DONE, "deleted the aardvark file", "\n".join(removed))


def _post_create(podman: PodmanCalls, definition: Mapping[str, Any]) -> tuple[str, bool]:
    """Create the network: (error, whether podman had to pick another bridge name).

    The bridge name (``network_interface``) is the one setting another network can take
    in the moment ours does not exist; then podman picks a free one."""
    why = podman.change("POST", "/networks/create", dict(definition))
    if why and definition.get("network_interface") and "already in use" in why:
        without = {k: v for k, v in definition.items() if k != "network_interface"}
        return podman.change("POST", "/networks/create", without), True
    return why, False


def _create(podman: PodmanCalls, j: Journal) -> StepResult:
    after = json.dumps(dict(j.definition), sort_keys=True)
    live = podman.network(j.network)
    if live is None:
        why, other_bridge = _post_create(podman, j.definition)
        if why:
            return StepResult(StepStatus.FAILED, f"creating the network failed: {why}")
        live = podman.network(j.network)
        if live is None:
            return StepResult(StepStatus.FAILED, "created, but podman does not list it")
        detail = f"created (new id {str(live.get('id', ''))[:12]})"
        if other_bridge:
            detail += (
                f"; bridge {j.definition.get('network_interface')} was taken meanwhile, "
                f"it is now {live.get('network_interface')}"
            )
    else:
        detail = "exists already with the recorded definition"
    if not same_definition(definition_of(live), j.definition, ignore=BRIDGE_NAME):
        return StepResult(
            StepStatus.FAILED,
            f"network {j.network} exists with another definition: "
            f"{json.dumps(definition_of(live), sort_keys=True)}",
        )
    return StepResult(StepStatus.DONE, detail, "", after)


def _connect(podman: PodmanCalls, j: Journal, rc: RecordedContainer) -> StepResult:
    live, replaced = _live_or_replaced(podman, j)
    if live is None:
        return StepResult(StepStatus.FAILED, f"network {j.network} does not exist")
    if replaced:
        return StepResult(StepStatus.FAILED, replaced)
    inspect = podman.inspect(rc.id)
    if inspect is None:
        return StepResult(StepStatus.SKIPPED, "container no longer exists")
    if _attached(inspect, j.network):
        wrong = settings_mismatch(rc, inspect, j.network)
        if wrong:
            return StepResult(
                StepStatus.FAILED, f"connected meanwhile with other settings: {wrong}"
            )
        return StepResult(StepStatus.DONE, "already connected as recorded", "", describe(rc))
    body: dict[str, Any] = {"container": rc.id, "aliases": list(rc.aliases)}
    if rc.static_ips:
        body["static_ips"] = list(rc.static_ips)
    if rc.static_mac:
        body["static_mac"] = rc.static_mac
    why = podman.change("POST", f"/networks/{j.network}/connect", body)
    if why:
        return StepResult(StepStatus.FAILED, f"connect failed: {why}")
    again = podman.inspect(rc.id)
    wrong = settings_mismatch(rc, again, j.network) if again else "container vanished"
    if wrong:
        return StepResult(StepStatus.FAILED, f"connected, but {wrong}")
    return StepResult(StepStatus.DONE, "connected with its recorded settings", "", describe(rc))


def run_step(podman: PodmanCalls, j: Journal, step: Step) -> StepResult:
    """Carry out one step of ``j`` (idempotently; see the module docstring)."""
    rc = j.container(step.container) if step.container else None
    if step.container and rc is None:
        return StepResult(StepStatus.FAILED, f"journal names unknown container {step.container}")
    if step.kind is StepKind.DISCONNECT and rc is not None:
        return _disconnect(podman, j, rc)
    if step.kind is StepKind.CONNECT and rc is not None:
        return _connect(podman, j, rc)
    if step.kind is StepKind.REMOVE_NETWORK:
        return _remove(podman, j)
    if step.kind is StepKind.DELETE_FILE:
        return _delete_file(podman, j)
    return _create(podman, j)


_ACTIONS = {
    StepKind.DISCONNECT: "disconnect-container",
    StepKind.REMOVE_NETWORK: "remove-network",
    StepKind.DELETE_FILE: "delete-file",
    StepKind.CREATE_NETWORK: "create-network",
    StepKind.CONNECT: "connect-container",
}


def step_change(j: Journal, step: Step, done: StepResult) -> Change:
    """The logged record of one step (what, on what, before/after)."""
    rc = j.container(step.container) if step.container else None
    action = "reconnect-container" if j.mode is Mode.ROLLBACK else _ACTIONS[step.kind]
    if rc is not None:
        target = rc.name or rc.id[:12]
    else:
        target = str(_aardvark_files(j)[0]) if step.kind is StepKind.DELETE_FILE else j.network
    return Change(action, j.network, target, str(done.status), done.detail, done.before, done.after)
