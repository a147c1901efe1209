"""``aardcheck clean``: the cron/timer job. Prunes only what is unambiguously dead.

From the usual repair plan it keeps only

- lines whose container no longer exists and whose address nothing answers at
  (``dead-entry``), and extra copies of lines of containers that do not run
  (``duplicate-entry``): ``PruneLines`` whose every reason is one of these two;
- files of networks that no longer exist (``orphan-file``): ``DeleteFile``.

Everything else (stopped or wrongly addressed containers, reloads, re-creates, lines
that cannot be proven dead) is left to ``aardcheck fix``. DNS is not probed.

Two runs never overlap: each holds ``flock`` on a lock file in the run directory
(``/run/aardcheck/clean.lock`` for root, ``$XDG_RUNTIME_DIR/aardcheck/clean.lock``
otherwise, ``/tmp/aardcheck-UID/clean.lock`` when there is no runtime directory). A
second run waits up to ``wait`` seconds (default 10) for the first, then gives up with
exit code 5 (BUSY) and one line on stderr.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aardcheck.errors import AardcheckError, EnvironmentUnavailable, ExitCode
from aardcheck.findings import Finding, Kind
from aardcheck.models import LATEST_AARDVARK
from aardcheck.repair.outcome import Change
from aardcheck.repair.plan import DeleteFile, PruneLines, RepairPlan
from aardcheck.runner.options import CheckOptions

if TYPE_CHECKING:
    from aardcheck.sources.podman_api import PodmanSession

#: Finding kinds whose lines ``clean`` may prune.
DEAD_KINDS = frozenset({str(Kind.DEAD_ENTRY), str(Kind.DUPLICATE_ENTRY)})
LOCK_NAME = "clean.lock"


class Busy(AardcheckError):
    exit_code = ExitCode.BUSY


def default_lock_path(uid: int | None = None) -> Path:
    """Where the clean lock lives for this user (a tmpfs run directory)."""
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return Path("/run/aardcheck") / LOCK_NAME
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    if not os.path.isdir(runtime):  # e.g. cron without a login session: private /tmp dir
        return Path(f"/tmp/aardcheck-{uid}") / LOCK_NAME
    return Path(runtime) / "aardcheck" / LOCK_NAME


def _private_dir(path: Path) -> None:
    """Create the lock's directory (0700 for users) and refuse one owned by someone else."""
    path.mkdir(mode=0o755 if os.geteuid() == 0 else 0o700, parents=True, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise EnvironmentUnavailable(f"{path} is not a directory owned by uid {os.geteuid()}")


@contextlib.contextmanager
def exclusive(lock_path: Path, wait: float) -> Iterator[None]:
    """Hold ``flock`` on ``lock_path``; raise Busy after ``wait`` seconds (bounded poll)."""
    _private_dir(lock_path.parent)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(lock_path, flags, 0o600)
    except OSError as err:
        raise EnvironmentUnavailable(f"cannot open lock {lock_path}: {err.strerror}") from err
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                    who = f" (pid {holder})" if holder.isdigit() else ""
                    raise Busy(
                        f"another aardcheck clean{who} holds {lock_path}; gave up after {wait:g} s"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def unambiguous(plan: RepairPlan) -> RepairPlan:
    """Only the actions ``clean`` may take on its own (see the module docstring)."""
    kept = [
        a
        for a in plan.actions
        if isinstance(a, DeleteFile)
        or (isinstance(a, PruneLines) and set(a.reason.split(", ")) <= DEAD_KINDS)
    ]
    return RepairPlan(actions=tuple(kept), skipped=(), consumers=())


@dataclass(frozen=True, slots=True)
class CleanResult:
    plan: RepairPlan
    changes: tuple[Change, ...] = ()
    dry_run: bool = False
    #: What is still wrong after the run (before it, when nothing was applied or when
    #: ``run_clean`` was not asked to look again): ``--textfile-dir`` reports these.
    findings: tuple[Finding, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        failed = any(c.status == "failed" for c in self.changes)
        return ExitCode.REPAIR_INCOMPLETE if failed else ExitCode.CLEAN

    @property
    def worth_reporting(self) -> bool:
        """Something was changed or failed (cron mails only then)."""
        return any(c.status in ("done", "failed") for c in self.changes) or (
            self.dry_run and not self.plan.empty
        )


def _known_networks(session: PodmanSession, options: CheckOptions) -> frozenset[str]:
    """The asked-for networks that exist now (in podman or as a file); others are done."""
    from aardcheck.runner.check import resolve_run_dir
    from aardcheck.sources.aardvark_files import read_dns_directory

    info = session.host_info()
    if info.network_backend == "cni":  # leftovers are the dnsname plugin's directories
        from aardcheck.runner.cni_check import dnsname_directory

        directory = dnsname_directory(options, info)
    else:
        directory = read_dns_directory(
            resolve_run_dir(options, info), options.aardvark_version or LATEST_AARDVARK
        )
    names = {n.name for n in session.state().networks} | {f.network for f in directory.files}
    return options.networks & names


def run_clean(
    options: CheckOptions, *, dry_run: bool = False, recheck: bool = False
) -> CleanResult:
    """One clean pass over ``options.networks`` (empty: every network of this user);
    ``recheck``: after applying, check again so ``findings`` tells what is left."""
    from aardcheck.repair.apply import apply_plan
    from aardcheck.repair.plan import build_plan
    from aardcheck.runner.check import check_with
    from aardcheck.runner.fix import host_access
    from aardcheck.sources.podman_api import connect

    options = replace(options, probe=False)
    with connect(options.url) as session:
        if options.networks:
            wanted = _known_networks(session, options)
            if not wanted:
                return CleanResult(RepairPlan((), ()), dry_run=dry_run)
            options = replace(options, networks=wanted)
        before = check_with(session, options)
        cni = before.context.network_backend == "cni"
        if cni:  # dnsname networks: the same rule, the plugin's lock and reload
            from aardcheck.repair.dnsname_plan import build_dnsname_plan

            plan = unambiguous(build_dnsname_plan(before))
        else:
            plan = unambiguous(build_plan(before.snapshot, before.findings))
        if plan.empty or dry_run:
            return CleanResult(plan, dry_run=dry_run, findings=before.findings)
        if cni:
            from aardcheck.runner.cni_fix import apply_cni

            changes = apply_cni(session, plan, before.findings)
        else:
            access = host_access(
                session, before.snapshot.directory.run_dir, before.snapshot.aardvark_version
            )
            changes = apply_plan(plan, access)
        after = check_with(session, options).findings if recheck else before.findings
        return CleanResult(plan, changes, findings=after)
