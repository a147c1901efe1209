"""Telling aardvark-dns to reload - only when that cannot kill it, and only the right pid."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from aardcheck.models import AardvarkVersion, DnsDirectory


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    #: "done" (signalled), "skipped" (nothing runs to reload), "failed" (must not / could not)
    status: str
    pid: int | None
    reason: str


def _read_pid(dns_dir: Path) -> int | None:
    try:
        text = (dns_dir / "aardvark.pid").read_bytes()[:32].decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 1 else None


def _serves(pid: int, dns_dir: Path) -> str:
    """Empty string when ``pid`` is aardvark-dns serving ``dns_dir``; else why not."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_bytes().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid} from aardvark.pid is not running"
    if comm != b"aardvark-dns":
        return f"pid {pid} from aardvark.pid is {comm.decode(errors='replace')!r}, not aardvark-dns"
    configs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == b"--config"]
    want = os.path.realpath(dns_dir)
    if not any(os.path.realpath(os.fsdecode(c)) == want for c in configs):
        return f"pid {pid} is an aardvark-dns for another directory"
    return ""


def reload_resolver(directory: DnsDirectory, version: AardvarkVersion) -> ReloadOutcome:
    """SIGHUP the directory's aardvark-dns after checking every file parses.

    On aardvark <= 1.11 one malformed file makes the reload stop DNS for every network,
    so a bad sibling blocks the signal (and says which file) instead.
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
    pid = _read_pid(dns_dir)
    if pid is None:
        return ReloadOutcome("skipped", None, "no aardvark-dns pid file: nothing to reload")
    if not Path(f"/proc/{pid}").exists():
        return ReloadOutcome("skipped", pid, f"aardvark-dns pid {pid} is not running")
    why = _serves(pid, dns_dir)
    if why:
        return ReloadOutcome("failed", pid, f"not signalled: {why}")
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        return ReloadOutcome("skipped", pid, f"aardvark-dns pid {pid} exited meanwhile")
    except PermissionError:
        return ReloadOutcome("failed", pid, f"no permission to signal aardvark-dns pid {pid}")
    return ReloadOutcome("done", pid, f"reloaded aardvark-dns (pid {pid})")
