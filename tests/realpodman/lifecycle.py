"""The one harness session of a process: opened lazily, always cleaned up.

Cleanup runs from the pytest fixture finalizer; if that never happens (crash, SIGTERM,
``KeyboardInterrupt`` outside pytest's handling) ``atexit`` does it. A session whose
process was killed outright (SIGKILL, CI timeout) is cleaned by the next session that
starts on the machine: its owner process is gone, so ``reap_abandoned_sessions`` removes
what it left, by its prefix.
"""

from __future__ import annotations

import atexit
import fcntl
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from tests.realpodman.cleanup import cleanup_session, orphaned_prefixes
from tests.realpodman.proc import HarnessError
from tests.realpodman.session import DEFAULT_BASE_DIR, PREFIX_STEM, HarnessSession, workdir_for

#: A scratch directory without an owner file younger than this may still be starting.
OWNERLESS_GRACE = 120.0


class _State:
    """The process-wide session slot (a class, not module globals, to keep it explicit)."""

    lock = threading.Lock()
    session: HarnessSession | None = None
    atexit_registered = False


def current_session() -> HarnessSession | None:
    """The open session of this process, if any."""
    return _State.session


def open_session(base_dir: Path = DEFAULT_BASE_DIR) -> HarnessSession:
    """The process's session, created on first use (after reaping abandoned ones)."""
    with _State.lock:
        if _State.session is not None:
            return _State.session
        problems = reap_abandoned_sessions(base_dir)
        for problem in problems:
            print(f"aardtest: reaping: {problem}", file=sys.stderr)
        session = HarnessSession.create(base_dir)
        _State.session = session
        if not _State.atexit_registered:
            atexit.register(_close_at_exit)
            _State.atexit_registered = True
        _install_sigterm_handler()
        return session


def close_session() -> list[str]:
    """Clean up the process's session (idempotent); returns the problems met."""
    with _State.lock:
        session, _State.session = _State.session, None
    if session is None:
        return []
    return cleanup_session(session)


def _close_at_exit() -> None:
    for problem in close_session():
        print(f"aardtest: cleanup: {problem}", file=sys.stderr)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then tears fixtures down


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _on_sigterm)


def reap_abandoned_sessions(base_dir: Path = DEFAULT_BASE_DIR) -> list[str]:
    """Clean up sessions whose owner process is gone; returns the problems met.

    Those are scratch directories whose owner died, and prefixes that still own
    objects but have no scratch directory at all (see ``orphaned_prefixes``).
    """
    problems: list[str] = []
    try:
        orphans = orphaned_prefixes(base_dir)
    except HarnessError as err:
        orphans = []
        problems.append(f"looking for orphaned sessions: {err}")
    for prefix in orphans:
        workdir = workdir_for(prefix, base_dir)
        try:
            workdir.mkdir(mode=0o755)  # claims it: other reapers skip it
        except FileExistsError:
            continue
        orphan = HarnessSession(prefix=prefix, workdir=workdir)
        problems.extend(f"{prefix}: {p}" for p in cleanup_session(orphan))
    for workdir in sorted(base_dir.glob(f"{PREFIX_STEM}*-run")):
        try:
            session = HarnessSession.attach(workdir)
        except ValueError:
            continue
        if session.owner_alive():
            continue
        owner_file = workdir / "owner.json"
        try:
            if not owner_file.exists() and time.time() - workdir.stat().st_mtime < OWNERLESS_GRACE:
                continue
            with open(workdir / ".reap.lock", "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another session is reaping it
                problems.extend(f"{session.prefix}: {p}" for p in cleanup_session(session))
        except FileNotFoundError:
            continue  # reaped meanwhile by another session
        except OSError as err:
            problems.append(f"{workdir}: {err}")
    return problems
