"""Telling aardvark-dns to reload - only when that cannot kill it, and only the right pid.

The pid comes from the directory reader, which read ``aardvark.pid`` without following a
symlink, without blocking on a FIFO and at most 64 bytes of it. The process is pinned
with a pidfd *before* it is identified, so a pid that is reused between the check and the
signal can never redirect the SIGHUP to another process.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from aardcheck.models import PID_FILE_NAME, AardvarkVersion, DnsDirectory


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    #: "done" (signalled), "skipped" (nothing runs to reload), "failed" (must not / could not)
    status: str
    pid: int | None
    reason: str


def _same_directory(config: bytes, dns_dir: Path, dns_dir_fd: int | None) -> bool:
    if dns_dir_fd is None:
        return os.path.realpath(os.fsdecode(config)) == os.path.realpath(dns_dir)
    try:
        theirs, ours = os.stat(config), os.fstat(dns_dir_fd)
    except OSError:
        return False
    return (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)


def _serves(pid: int, dns_dir: Path, dns_dir_fd: int | None) -> str:
    """Empty string when ``pid`` is aardvark-dns serving ``dns_dir``; else why not."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_bytes().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid} from aardvark.pid is not running"
    if comm != b"aardvark-dns":
        return f"pid {pid} from aardvark.pid is {comm.decode(errors='replace')!r}, not aardvark-dns"
    configs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == b"--config"]
    if not any(_same_directory(c, dns_dir, dns_dir_fd) for c in configs):
        return f"pid {pid} is an aardvark-dns for another directory"
    return ""


def _exited(pid: int) -> bool:
    """A zombie: an aardvark-dns that exited (a failed start, a crash) where nothing reaps
    orphans (init in a container, some CI hosts). It serves nothing; its cmdline is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return stat[stat.rindex(b")") + 2 :][:1] in (b"Z", b"X")


def _pidfd(pid: int) -> int | None:
    """A pidfd pinning ``pid`` (None where the kernel has none); raises ProcessLookupError."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except (OSError, AttributeError):
        return None


def _signal(pid: int, pidfd: int | None) -> None:
    if pidfd is None:
        os.kill(pid, signal.SIGHUP)
    else:
        signal.pidfd_send_signal(pidfd, signal.SIGHUP)


def _without_pid(dns_dir: Path, dns_dir_fd: int | None) -> ReloadOutcome:
    """No usable pid: fine when there is no pid file; else aardvark may run unreached."""
    try:
        if dns_dir_fd is None:
            os.lstat(dns_dir / PID_FILE_NAME)
        else:
            os.lstat(PID_FILE_NAME, dir_fd=dns_dir_fd)
    except FileNotFoundError:
        return ReloadOutcome("skipped", None, "no aardvark-dns pid file: nothing to reload")
    except OSError:
        pass
    return ReloadOutcome(
        "failed",
        None,
        f"not signalled: {dns_dir / PID_FILE_NAME} holds no usable process id (empty, "
        "garbage or not a plain file); a running aardvark-dns still serves the old lines - "
        "`podman network reload --all` makes it reload",
    )


def reload_resolver(
    directory: DnsDirectory, version: AardvarkVersion, *, dns_dir_fd: int | None = None
) -> ReloadOutcome:
    """SIGHUP the directory's aardvark-dns after checking every file parses.

    On aardvark <= 1.11 one malformed file makes the reload stop DNS for every network,
    so a bad sibling blocks the signal (and says which file) instead. ``dns_dir_fd``: the
    directory as the repair opened it; the daemon's ``--config`` must be that very one.
    """
    dns_dir = directory.run_dir.dns_dir
    if not version.skips_bad_files:
        bad = [f for f in directory.files if f.defect is not None]
        bad_entries = [u for u in directory.unreadable if u.breaks_aardvark]
        if bad or bad_entries:
            first = str(bad[0].path) if bad else str(bad_entries[0].path)
            return ReloadOutcome(
                "failed",
                None,
                f"not reloading aardvark-dns: {first} is malformed and aardvark {version} "
                "would stop answering for every network; fix that file first",
            )
    pid = directory.aardvark_pid
    if pid is None or pid <= 1:
        return _without_pid(dns_dir, dns_dir_fd)
    try:
        pidfd = _pidfd(pid)
    except ProcessLookupError:
        return ReloadOutcome("skipped", pid, f"aardvark-dns pid {pid} is not running")
    try:
        if _exited(pid):
            return ReloadOutcome("skipped", pid, f"aardvark-dns pid {pid} exited (not reaped)")
        why = _serves(pid, dns_dir, dns_dir_fd)
        if why:
            return ReloadOutcome("failed", pid, f"not signalled: {why}")
        _signal(pid, pidfd)
    except ProcessLookupError:
        return ReloadOutcome("skipped", pid, f"aardvark-dns pid {pid} exited meanwhile")
    except PermissionError:
        return ReloadOutcome("failed", pid, f"no permission to signal aardvark-dns pid {pid}")
    finally:
        if pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(pidfd)
    return ReloadOutcome("done", pid, f"reloaded aardvark-dns (pid {pid})")
