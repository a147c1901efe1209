"""Apply a dnsname repair plan the way the plugin edits its own files.

Per network directory, as ``dnsname`` does for every add and delete (``main.go``):
take the exclusive ``flock`` on ``DIR/lock`` (bounded wait here), re-read ``addnhosts``
and podman's containers *under the lock*, drop only lines still proven stale, write a
temp file in the same directory (same mode) and rename it over ``addnhosts``, then
SIGHUP the network's dnsmasq - only a pid whose ``/proc/PID/comm`` is ``dnsmasq`` and
whose command line names this directory's ``dnsmasq.conf``, pinned by a pidfd first.
An orphan directory's dnsmasq gets SIGTERM and the directory is removed, under the same
lock. Every file operation goes through a descriptor of the network's directory reached
without following a symlink (``dnsname_fs``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from aardcheck.dnsname.checks import owner_of
from aardcheck.dnsname.hosts_format import parse_hosts, render_without
from aardcheck.dnsname.model import CONF_FILE, HOSTS_FILE, LOCK_FILE, PID_FILE
from aardcheck.errors import AardcheckError
from aardcheck.findings import Finding, Kind
from aardcheck.models import Container
from aardcheck.repair.dnsname_fs import open_directory, read_at, remove_tree_at, replace_at
from aardcheck.repair.outcome import Change
from aardcheck.repair.plan import DeleteFile, PruneLines, ReloadContainer, RepairPlan

Containers = Callable[[], Sequence[Container]]


class LockBusy(AardcheckError):
    """The plugin (or another repair) held the network's lock past the wait."""


@contextlib.contextmanager
def dnsname_lock(dir_fd: int, directory: Path, timeout: float) -> Iterator[None]:
    """The plugin's own lock: ``flock(LOCK_EX)`` on ``DIR/lock`` (created 0750 if missing,
    as go-filemutex does); never follows a symlink."""
    flags = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(LOCK_FILE, flags, 0o750, dir_fd=dir_fd)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise LockBusy(f"{directory / LOCK_FILE} held past {timeout:.0f} s") from err
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def pinned(directory: Path) -> Iterator[int]:
    """A descriptor of ``directory`` reached without following a symlink."""
    fd = open_directory(directory)
    try:
        yield fd
    finally:
        os.close(fd)


def signal_dnsmasq(directory: Path, dir_fd: int, sig: signal.Signals) -> int | None:
    """Send ``sig`` to this directory's dnsmasq; its pid, or None when none runs.

    The process is pinned with a pidfd *before* it is identified, so a pid reused
    between identifying and signalling can never receive the signal."""
    try:
        pid = int(read_at(dir_fd, PID_FILE, 64).decode("ascii").strip())
        pidfd = os.pidfd_open(pid) if pid > 1 else None
    except (OSError, ValueError):
        return None
    if pidfd is None:
        return None
    try:
        if dnsmasq_of(directory, dir_fd) != pid:
            return None
        signal.pidfd_send_signal(pidfd, sig)
        return pid
    except ProcessLookupError:
        return None
    finally:
        os.close(pidfd)


def dnsmasq_of(directory: Path, dir_fd: int | None = None) -> int | None:
    """The pid in ``DIR/pidfile`` when it is this directory's dnsmasq, else None."""
    try:
        if dir_fd is None:
            with pinned(directory) as fd:
                raw = read_at(fd, PID_FILE, 64)
        else:
            raw = read_at(dir_fd, PID_FILE, 64)
        pid = int(raw.decode("ascii").strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    wanted = f"--conf-file={directory / CONF_FILE}".encode()
    return pid if pid > 1 and comm == "dnsmasq" and wanted in argv else None


def _stale_lines(
    content: bytes, wanted: Sequence[Finding], containers: Sequence[Container]
) -> set[int]:
    """Line numbers still proven stale now (re-parsed, re-checked against podman)."""
    by_name = {c.name: c for c in containers if c.owns_network}
    lines = parse_hosts(content)
    drop: set[int] = set()
    for f in wanted:
        same = [
            ln
            for ln in lines
            if ln.defect is None and ln.name == f.name and str(ln.address) == f.address
        ]
        if f.kind is Kind.DUPLICATE_ENTRY:
            drop.update(ln.line_no for ln in same[1:])
            continue
        for ln in same:
            owner = owner_of(ln, by_name)
            # a container of that name started meanwhile keeps its line
            gone = owner is None
            stopped = owner is not None and not owner.running
            if (f.kind is Kind.DEAD_ENTRY and gone) or (f.kind is Kind.STOPPED_ENTRY and stopped):
                drop.add(ln.line_no)
    return drop


def _prune(
    directory: Path, wanted: Sequence[Finding], containers: Containers, timeout: float
) -> Change:
    path = directory / HOSTS_FILE
    with pinned(directory) as dir_fd, dnsname_lock(dir_fd, directory, timeout):
        before = read_at(dir_fd, HOSTS_FILE)
        drop = _stale_lines(before, wanted, containers())
        if not drop:
            return Change(
                "prune-lines", directory.name, str(path), "skipped", "no line is stale any more"
            )
        after = render_without(before, frozenset(drop))
        replace_at(dir_fd, HOSTS_FILE, after)
        # dnsmasq re-reads addn-hosts only on SIGHUP
        pid = signal_dnsmasq(directory, dir_fd, signal.SIGHUP)
        lines = ",".join(map(str, sorted(drop)))
        detail = f"line(s) {lines}; " + (f"SIGHUP dnsmasq {pid}" if pid else "no dnsmasq running")
        return Change(
            "prune-lines",
            directory.name,
            str(path),
            "done",
            detail,
            before.decode("utf-8", "backslashreplace"),
            after.decode("utf-8", "backslashreplace"),
        )


def _exited(pid: int) -> bool:
    """Gone, or a zombie (no init reaps it on a host without a real PID 1)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


def _wait_exited(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _exited(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _delete(directory: Path, network_exists: Callable[[str], bool], timeout: float) -> Change:
    if network_exists(directory.name):
        return Change(
            "delete-file", directory.name, str(directory), "skipped", "the network exists again"
        )
    with (
        pinned(directory.parent) as parent_fd,
        pinned(directory) as dir_fd,
        dnsname_lock(dir_fd, directory, timeout),
    ):
        pid = signal_dnsmasq(directory, dir_fd, signal.SIGTERM)
        if pid is not None:
            # dnsmasq deletes its pidfile on the way out: let it finish first
            _wait_exited(pid, timeout=5.0)
        remove_tree_at(parent_fd, directory.name)
    return Change(
        "delete-file",
        directory.name,
        str(directory),
        "done",
        f"stopped dnsmasq {pid}" if pid else "no dnsmasq running",
    )


def apply_dnsname_plan(
    plan: RepairPlan,
    findings: Sequence[Finding],
    *,
    containers: Containers,
    network_exists: Callable[[str], bool],
    lock_timeout: float = 30.0,
) -> tuple[Change, ...]:
    """Every action of ``plan``; a failure is a logged change, the others still run."""
    changes: list[Change] = []
    prunes: dict[Path, list[Finding]] = {}
    for action in plan.actions:
        if isinstance(action, PruneLines):
            for f in findings:
                if (f.network, f.path, f.line_no, str(f.kind)) == (
                    action.network,
                    action.path,
                    action.line_nos[0],
                    action.reason,
                ):
                    prunes.setdefault(Path(action.path).parent, []).append(f)
    for directory, wanted in sorted(prunes.items()):
        try:
            changes.append(_prune(directory, wanted, containers, lock_timeout))
        except (AardcheckError, OSError) as err:
            changes.append(
                Change("prune-lines", directory.name, str(directory), "failed", str(err))
            )
    for action in plan.actions:
        if isinstance(action, ReloadContainer):
            # podman's own teardown and setup: the plugin takes its lock itself
            from aardcheck.repair.apply import _reload

            changes.append(_reload(action))
        elif isinstance(action, DeleteFile):
            try:
                changes.append(_delete(Path(action.path), network_exists, lock_timeout))
            except (AardcheckError, OSError) as err:
                changes.append(
                    Change("delete-file", action.network, action.path, "failed", str(err))
                )
    return tuple(changes)
