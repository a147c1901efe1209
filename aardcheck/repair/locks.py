"""The two locks netavark's writers respect, taken in their order, with bounded waits.

podman holds an fcntl (POSIX) write lock on its ``netavark.lock`` around every netavark
call, and netavark's setup holds ``flock`` on ``RUNDIR/aardvark.lock`` while appending.
Taking podman's first, then aardvark's, is the order podman+netavark use: no deadlock.
(netavark's teardown takes no lock at all; podman's lock is what keeps it out.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from aardcheck.errors import AardcheckError, ExitCode


class LockTimeout(AardcheckError):
    exit_code = ExitCode.BUSY


def podman_lock_path(*, rootless: bool, podman_version: str, graph_root: Path) -> Path:
    """Where this podman keeps its netavark lock (it moved in podman 4.4)."""
    if rootless:
        return graph_root / "networks" / "netavark.lock"
    parts = podman_version.split(".")[:2]
    if (
        len(parts) == 2
        and all(p.isdigit() for p in parts)
        and (int(parts[0]), int(parts[1])) < (4, 4)
    ):
        return Path("/etc/containers/networks/netavark.lock")
    return Path("/run/lock/netavark.lock")


def network_config_dir(*, rootless: bool, graph_root: Path) -> Path:
    """Where podman (netavark backend) stores ``NAME.json`` network definitions."""
    return graph_root / "networks" if rootless else Path("/etc/containers/networks")


def _acquire(fd: int, take: Callable[[int], None], what: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            take(fd)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"{what} stayed locked for {timeout:.0f} s (podman, netavark or another "
                    "aardcheck is busy); try again"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


@contextlib.contextmanager
def _locked(
    path: Path, take: Callable[[int], None], timeout: float, dir_fd: int | None = None
) -> Iterator[None]:
    # O_NOFOLLOW: a lock file replaced by a symlink must not redirect our open().
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path.name if dir_fd is not None else path, flags, 0o644, dir_fd=dir_fd)
    except OSError as err:
        raise AardcheckError(f"cannot open lock {path}: {err.strerror}") from err
    try:
        _acquire(fd, take, path, timeout)
        yield
    finally:
        os.close(fd)  # closing releases both kinds of lock


def _posix_write_lock(fd: int) -> None:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _flock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def netavark_locks(
    podman_lock: Path, aardvark_lock: Path, *, timeout: float = 30.0, dir_fd: int | None = None
) -> Iterator[None]:
    """Hold podman's lock, then aardvark's. Each lock file is opened once per holder:
    closing any descriptor of a POSIX-locked file would drop the lock.

    ``dir_fd``: the already opened run directory; ``aardvark_lock`` is then opened by
    its name inside it (so a run directory swapped for a symlink redirects nothing)."""
    podman_lock.parent.mkdir(parents=True, exist_ok=True)
    with (
        _locked(podman_lock, _posix_write_lock, timeout),
        _locked(aardvark_lock, _flock, timeout, dir_fd),
    ):
        yield
