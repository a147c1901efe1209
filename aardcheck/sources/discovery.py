"""Where the aardvark-dns directories are. Asks podman rather than guessing."""

from __future__ import annotations

import os
from pathlib import Path

from aardcheck.errors import UsageError
from aardcheck.models import RunDir, Scope

ROOTFUL_RUN_DIR = Path("/run/containers/networks")


def run_dir_for(*, rootless: bool, run_root: Path, uid: int) -> RunDir:
    """The netavark run directory podman uses: rootless ones sit under the store's run root
    (which is /tmp/podman-run-UID when XDG_RUNTIME_DIR was unset at first use)."""
    if rootless:
        return RunDir(run_root / "networks", Scope.ROOTLESS, uid)
    return RunDir(ROOTFUL_RUN_DIR, Scope.ROOTFUL, 0)


def run_dir_override(path: Path) -> RunDir:
    """``--run-dir``: the netavark run dir, or its ``aardvark-dns`` directory itself."""
    path = path.expanduser()
    if path.name == "aardvark-dns":
        path = path.parent
    if not path.exists():
        raise UsageError(f"--run-dir {path}: no such directory")
    if not path.is_dir():
        raise UsageError(f"--run-dir {path}: not a directory")
    uid = path.stat().st_uid
    return RunDir(path, Scope.ROOTFUL if uid == 0 else Scope.ROOTLESS, uid)


def _aardvark_config_dirs() -> list[Path]:
    """``--config`` of every running aardvark-dns this user may read: the best truth."""
    found: list[Path] = []
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm", "rb") as fh:
                if fh.read().strip() != b"aardvark-dns":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        for i, arg in enumerate(argv[:-1]):
            if arg == b"--config":
                found.append(Path(os.fsdecode(argv[i + 1])))
    return found


def visible_run_dirs() -> tuple[RunDir, ...]:
    """Every run directory this user can see without asking podman (for lint/watch)."""
    uid = os.geteuid()
    candidates: list[RunDir] = []
    if uid == 0:
        candidates.append(RunDir(ROOTFUL_RUN_DIR, Scope.ROOTFUL, 0))
    else:
        xdg = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
        candidates.append(RunDir(Path(xdg) / "containers" / "networks", Scope.ROOTLESS, uid))
        candidates.append(
            RunDir(Path(f"/tmp/podman-run-{uid}/containers/networks"), Scope.ROOTLESS, uid)
        )
    for config in _aardvark_config_dirs():
        run = config.parent if config.name == "aardvark-dns" else config
        try:
            owner = run.stat().st_uid
        except OSError:
            continue
        if uid in (0, owner):
            scope = Scope.ROOTFUL if owner == 0 else Scope.ROOTLESS
            candidates.append(RunDir(run, scope, owner))
    unique: dict[Path, RunDir] = {}
    for c in candidates:
        if c.dns_dir.is_dir():
            unique.setdefault(c.path.resolve(), c)
    return tuple(unique.values())
