"""Carrying out a RepairPlan. Every change is re-verified under netavark's locks first.

File edits happen with podman's and aardvark's locks held and podman's state re-read
*under* them, so a container that started (or a network created) since the plan was made
keeps its line. Commands that take podman's lock themselves (``podman network reload``,
restarts, re-creates) run after the locks are released.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from aardcheck.errors import ApiTimeout
from aardcheck.format.edit import is_effectively_empty, remove_entries
from aardcheck.models import AardvarkVersion, Container, RunDir
from aardcheck.repair.files import PinnedRunDir, UnsafeFile
from aardcheck.repair.locks import LockTimeout, netavark_locks
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

#: How long the container listing may take while the netavark lock is held (it takes
#: about 20 ms; longer means a lock-order wait inside podman, not a slow host).
UNDER_LOCK_LISTING_WAIT = 3.0


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


def kept_line(action: PruneLines, containers: tuple[Container, ...]) -> str:
    """Why the prune must not happen (a running container owns the id), else "".

    The prune drops lines by id case-insensitively (as aardvark >= 1.1 reads them), so a
    running container whose id differs only in case keeps its line too.
    """
    wanted = action.container_id.lower()
    owner = next((c for c in containers if c.id.lower() == wanted), None)
    if owner is None or not owner.running:
        return ""
    if owner.id != action.container_id:
        return f"container {owner.name} runs under this id (but for case); it keeps its line"
    return f"container {owner.name} started meanwhile; it keeps its line"


def _prune(action: PruneLines, containers: tuple[Container, ...], pinned: PinnedRunDir) -> Change:
    name = ",".join(action.names) or action.container_id[:12]
    if why := kept_line(action, containers):
        return Change("prune-lines", action.network, action.path, "skipped", why)
    try:
        entry = pinned.name_of(Path(action.path))
        old = pinned.read(entry)
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
        if line.split(" ", 1)[0].lower() == action.container_id.lower()
    ]
    before, after = "\n".join(removed), ""
    try:
        if is_effectively_empty(new):
            pinned.delete(entry, old)  # as netavark does when the last container leaves
            detail = f"removed the line(s) of {name}; no container line left, file deleted"
        else:
            pinned.replace(entry, old, new)
            detail = f"removed {len(removed)} line(s) of {name} ({action.reason})"
    except UnsafeFile as err:
        return Change("prune-lines", action.network, action.path, "skipped", str(err))
    return Change("prune-lines", action.network, action.path, "done", detail, before, after)


def _delete(action: DeleteFile, config_dir: Path, pinned: PinnedRunDir) -> Change:
    if (config_dir / f"{action.network}.json").exists():
        return Change(
            "delete-file",
            action.network,
            action.path,
            "skipped",
            f"network '{action.network}' exists again; file kept",
        )
    try:
        entry = pinned.name_of(Path(action.path))
        old = pinned.read(entry)
        pinned.delete(entry, old)
    except UnsafeFile as err:
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


def _refused(file_actions: Sequence[PruneLines | DeleteFile], why: str) -> list[Change]:
    return [Change(type(a).__name__, a.network, a.path, "failed", why) for a in file_actions]


def _file_changes(
    file_actions: Sequence[PruneLines | DeleteFile], access: HostAccess
) -> list[Change]:
    try:  # pinned before the locks: the lock file, too, is opened in the pinned run dir
        pinned = PinnedRunDir(access.run_dir.path, access.run_dir.uid)
    except UnsafeFile as err:
        return _refused(file_actions, str(err))
    deadline = time.monotonic() + access.lock_timeout
    with pinned:
        for attempt in itertools.count(1):
            with netavark_locks(
                access.podman_lock,
                access.run_dir.lock_file,
                timeout=max(deadline - time.monotonic(), 0.0),
                dir_fd=pinned.run_fd,
            ):
                try:
                    containers = access.fresh_containers()  # re-verify under the locks
                except ApiTimeout:
                    pass  # podman waits for our lock while holding a container's: let go
                else:
                    return _apply_locked(file_actions, containers, access, pinned)
            if time.monotonic() + UNDER_LOCK_LISTING_WAIT >= deadline:
                raise LockTimeout(
                    f"podman kept its containers busy while {access.podman_lock} was held "
                    f"({attempt} tries in {access.lock_timeout:.0f} s); try again"
                )
            time.sleep(min(0.05 * 2**attempt, 1.0))
    raise AssertionError("itertools.count never ends")


def _apply_locked(
    file_actions: Sequence[PruneLines | DeleteFile],
    containers: tuple[Container, ...],
    access: HostAccess,
    pinned: PinnedRunDir,
) -> list[Change]:
    """The file edits and the resolver reload; both locks are held by the caller."""
    changes: list[Change] = []
    for action in file_actions:
        try:
            if isinstance(action, PruneLines):
                changes.append(_prune(action, containers, pinned))
            elif isinstance(action, DeleteFile):
                changes.append(_delete(action, access.network_config_dir, pinned))
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
        directory = read_dns_directory(access.run_dir, access.version, dir_fd=pinned.dns_fd)
        outcome = reload_resolver(directory, access.version, dns_dir_fd=pinned.dns_fd)
        changes.append(
            Change(
                "reload-resolver", "", str(access.run_dir.dns_dir), outcome.status, outcome.reason
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


#: podman's words for a container that no longer exists (``podman rm`` raced the plan).
_NO_SUCH_CONTAINER = "no such container"


def _container_command(
    action: ReloadContainer | RestartConsumer, kind: str, args: tuple[str, ...], gone: str
) -> Change:
    ok, out = _podman(*args, action.container_id)
    if not ok and _NO_SUCH_CONTAINER in out:
        return Change(kind, action.network, action.container_name, "skipped", gone)
    detail = action.reason if ok else f"podman {' '.join(args)} failed: {out}"
    return Change(kind, action.network, action.container_name, "done" if ok else "failed", detail)


def _reload(action: ReloadContainer) -> Change:
    return _container_command(
        action,
        "reload-container",
        ("network", "reload"),
        "removed meanwhile: netavark's teardown took its line with it",
    )


def _restart(action: RestartConsumer) -> Change:
    return _container_command(
        action, "restart-container", ("restart",), "removed meanwhile; nothing to restart"
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
