"""Run the aardcheck CLI as a real subprocess against a test host's podman."""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from tests.realpodman.proc import HarnessError, run_command

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost

#: The repository root (holds the ``aardcheck`` package).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Override the interpreter a rootless user runs aardcheck with.
ROOTLESS_PYTHON_ENV = "AARDTEST_ROOTLESS_PYTHON"
AARDCHECK_TIMEOUT = 180.0


def python_for(host: PodmanHost) -> str:
    """The interpreter to run aardcheck with on this host.

    Root uses ``sys.executable``. A rootless user needs one it can execute and import
    aardcheck with: ``$AARDTEST_ROOTLESS_PYTHON``, else ``sys.executable``, else the
    repository's ``.venv/bin/python`` (a pyenv interpreter under /root is not readable
    by other users); the first that works is remembered.
    """
    if not host.user:
        return sys.executable
    candidates = [os.environ.get(ROOTLESS_PYTHON_ENV, ""), sys.executable]
    # The venv itself may live outside an unreadable checkout (setup-host.sh links it).
    candidates.append(str(Path(sys.prefix).resolve() / "bin" / "python"))
    candidates.append(str(REPO_ROOT / ".venv" / "bin" / "python"))
    errors = []
    for python in dict.fromkeys(c for c in candidates if c):
        key = (host.user.name, python)
        if key in _usable:
            return python
        proc = host.exec(python, "-c", "import aardcheck", extra_env=_pythonpath(), check=False)
        if proc.returncode == 0:
            _usable.add(key)
            return python
        errors.append(f"{python}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    raise HarnessError(
        "the rootless test user cannot run aardcheck with any of: "
        + "; ".join(errors)
        + "\nThe interpreter, its libraries and the repository must be readable by other "
        "users: make .venv with scripts/setup-host.sh (Debian's /usr/bin/python3) or "
        f"set {ROOTLESS_PYTHON_ENV}."
    )


_usable: set[tuple[str, str]] = set()


def _readable_by_others(path: Path) -> bool:
    """Whether any user can reach ``path``: every ancestor searchable, itself readable."""
    try:
        if not path.stat().st_mode & stat.S_IROTH:
            return False
        return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))
    except OSError:
        return False


_code_copy: list[Path] = []


def readable_code_root() -> Path:
    """Where a rootless user imports the working tree's aardcheck from.

    CI may clone into a directory other users cannot enter; then the package is copied
    once to a world-readable temporary directory (removed at exit).
    """
    if _readable_by_others(REPO_ROOT):
        return REPO_ROOT
    if not _code_copy:
        root = Path(tempfile.mkdtemp(prefix="aardtest-code-"))
        root.chmod(0o755)
        shutil.copytree(
            REPO_ROOT / "aardcheck",
            root / "aardcheck",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        atexit.register(shutil.rmtree, root, True)
        _code_copy.append(root)
    return _code_copy[0]


def _pythonpath() -> dict[str, str]:
    return {"PYTHONPATH": str(readable_code_root())}


def aardcheck_env(host: PodmanHost, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables an aardcheck process of this host gets on top of the host's.

    CONTAINERS_CONF (and XDG_RUNTIME_DIR, HOME for rootless) come from the host;
    PYTHONPATH points at the repository so the working tree's code runs.
    """
    extra = {"CONTAINERS_CONF": str(host.containers_conf)} | _pythonpath()
    if host.user:
        extra["XDG_RUNTIME_DIR"] = str(host.user.runtime_dir)
    return extra | dict(env or {})


def run_aardcheck(
    *args: str | os.PathLike[str],
    host: PodmanHost,
    env: Mapping[str, str] | None = None,
    timeout: float = AARDCHECK_TIMEOUT,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m aardcheck ARGS`` as the host's user; never raises on its exit code.

    ``env`` adds or overrides variables (e.g. ``CONTAINER_HOST`` from ``api_service``).
    Raises CommandTimeout after ``timeout`` seconds.
    """
    extra = aardcheck_env(host, env)
    argv = [python_for(host), "-m", "aardcheck", *(os.fspath(a) for a in args)]
    return run_command(
        host.command(argv, extra),
        env=host.process_env(extra),
        timeout=timeout,
        check=False,
        input_text=input_text,
        cwd=str(REPO_ROOT) if not host.user else "/",
    )
