"""Carrying out a RepairPlan. Every change is re-verified under netavark's locks first.

File edits happen with podman's and aardvark's locks held and podman's state re-read
*under* them, so a container that started (or a network created) since the plan was made
keeps its line. Commands that take podman's lock themselves (``podman network reload``,
restarts, re-creates) run after the locks are released.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aardcheck.aardvark_format import is_effectively_empty, remove_entries
from aardcheck.models import AardvarkVersion, Container, RunDir
from aardcheck.repair.files import UnsafeFile, delete_file, read_regular, replace_content
from aardcheck.repair.locks import netavark_locks
from aardcheck.repair.outcome import Change
from aardcheck.repair.plan import (
    DeleteFile,
    PruneLines,
    RecreateNetwork,
    ReloadContainer,
    RepairPlan,
    RestartConsumer,
)
from aardcheck.repair.resolver import reload_resolver
from aardcheck.sources.aardvark_files import read_dns_directory


@dataclass(frozen=True, slots=True)
class HostAccess:
    """What apply needs from the host, injected so it can be driven in tests."""

    run_dir: RunDir
    version: AardvarkVersion
    podman_lock: Path
    #: Where podman keeps network definitions (``NAME.json``); read under the lock
    #: because podman's network listing itself waits for that lock.
    network_config_dir: Path
    fresh_containers: Callable[[], tuple[Container, ...]]
    lock_timeout: float = 30.0


def _prune(action: PruneLines, containers: tuple[Container, ...], run_dir: RunDir) -> Change:
    owner = next((c for c in containers if c.id == action.container_id), None)
    name = ",".join(action.names) or action.container_id[:12]
    if owner is not None and owner.running:
        return Change(
            "prune-lines",
            action.network,
            action.path,
            "skipped",
            f"container {owner.name} started meanwhile; it keeps its line",
        )
    target = Path(action.path)
    try:
        old = read_regular(target)
    except UnsafeFile as err:
        return Change("prune-lines", action.network, action.path, "skipped", str(err))
    new = remove_entries(old.content, {action.container_id})
    if new == old.content:
        return Change(
            "prune-lines",
            action.network,
            action.path,
            "skipped",
            f"line of {name} already gone",
        )
    removed = [
        line
        for line in old.content.decode(errors="replace").split("\n")
        if line.split(" ", 1)[0].lower() == action.container_id
    ]
    before, after = "\n".join(removed), ""
    if is_effectively_empty(new):
        delete_file(target)  # as netavark does when the last container leaves
        return Change(
            "prune-lines",
            action.network,
            action.path,
            "done",
            f"removed the line(s) of {name}; no container line left, file deleted",
            before,
            after,
        )
    replace_content(target, run_dir.path, old, new)
    return Change(
        "prune-lines",
        action.network,
        action.path,
        "done",
        f"removed {len(removed)} line(s) of {name} ({action.reason})",
        before,
        after,
    )


def _delete(action: DeleteFile, config_dir: Path) -> Change:
    if (config_dir / f"{action.network}.json").exists():
        return Change(
            "delete-file",
            action.network,
            action.path,
            "skipped",
            f"network '{action.network}' exists again; file kept",
        )
    target = Path(action.path)
    try:
        old = read_regular(target)
        delete_file(target)
    except (UnsafeFile, FileNotFoundError) as err:
        return Change("delete-file", action.network, action.path, "skipped", str(err))
    return Change(
        "delete-file",
        action.network,
        action.path,
        "done",
        action.reason,
        old.content.decode(errors="replace"),
        "",
    )


def _file_changes(
    file_actions: Sequence[PruneLines | DeleteFile], access: HostAccess
) -> list[Change]:
    changes: list[Change] = []
    with netavark_locks(access.podman_lock, access.run_dir.lock_file, timeout=access.lock_timeout):
        containers = access.fresh_containers()  # re-verify under the locks
        for action in file_actions:
            try:
                if isinstance(action, PruneLines):
                    changes.append(_prune(action, containers, access.run_dir))
                elif isinstance(action, DeleteFile):
                    changes.append(_delete(action, access.network_config_dir))
            except OSError as err:
                changes.append(
                    Change(
                        type(action).__name__,
                        action.network,
                        getattr(action, "path", ""),
                        "failed",
                        f"{err.strerror or err}",
                    )
                )
        if any(c.status == "done" for c in changes):
            directory = read_dns_directory(access.run_dir, access.version)
            outcome = reload_resolver(directory, access.version)
            changes.append(
                Change(
                    "reload-resolver",
                    "",
                    str(access.run_dir.dns_dir),
                    outcome.status,
                    outcome.reason,
                )
            )
    return changes


def _podman(*args: str, timeout: float = 120.0) -> tuple[bool, str]:
    podman = shutil.which("podman")
    if podman is None:
        return False, "podman is not installed"
    try:
        proc = subprocess.run(
            [podman, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"`podman {' '.join(args)}` timed out after {timeout:.0f} s"
    out = (proc.stderr or proc.stdout).strip().splitlines()
    return proc.returncode == 0, out[-1] if out else ""


def _reload(action: ReloadContainer) -> Change:
    ok, out = _podman("network", "reload", action.container_id)
    return Change(
        "reload-container",
        action.network,
        action.container_name,
        "done" if ok else "failed",
        action.reason if ok else f"podman network reload failed: {out}",
    )


def _restart(action: RestartConsumer) -> Change:
    ok, out = _podman("restart", action.container_id)
    return Change(
        "restart-container",
        action.network,
        action.container_name,
        "done" if ok else "failed",
        action.reason if ok else f"podman restart failed: {out}",
    )


def apply_plan(
    plan: RepairPlan,
    access: HostAccess,
    recreate: Callable[[RecreateNetwork], list[Change]] | None = None,
) -> tuple[Change, ...]:
    """Apply in a safe order: re-creates, file edits under the locks, reloads, restarts."""
    changes: list[Change] = []
    for action in plan.actions:
        if isinstance(action, RecreateNetwork):
            if recreate is None:
                changes.append(
                    Change(
                        "recreate-network",
                        action.network,
                        action.network,
                        "failed",
                        "re-creating networks is not available here",
                    )
                )
            else:
                changes.extend(recreate(action))
    file_actions = [a for a in plan.actions if isinstance(a, PruneLines | DeleteFile)]
    if file_actions:
        changes.extend(_file_changes(file_actions, access))
    changes.extend(_reload(a) for a in plan.actions if isinstance(a, ReloadContainer))
    changes.extend(_restart(a) for a in plan.actions if isinstance(a, RestartConsumer))
    return tuple(changes)
