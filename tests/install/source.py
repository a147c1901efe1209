"""What the install tests start from: a copy of the checkout as a user would clone it,
world-readable (a rootless user builds from it), and Python environments built from it.

Every install goes to a temporary prefix; nothing lands in /opt, /usr/local or a real
user's home, and the temporary directories are removed at the end of the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.realpodman.invoke import REPO_ROOT

#: What a clone holds that installing needs (the rest of the tree is tests and docs).
SHIPPED = ("pyproject.toml", "README.md", "aardcheck", "scripts", "systemd")
INSTALL_TIMEOUT = 480.0


def copy_checkout(dest: Path) -> Path:
    """``dest/aardcheck``: the checkout's shipped files, readable by every user."""
    root = dest / "aardcheck"
    root.mkdir(parents=True)
    for name in SHIPPED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    for path in [dest, *dest.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return root


def scratch_dir(stem: str) -> Path:
    """A temporary directory every user can enter (under /tmp)."""
    path = Path(tempfile.mkdtemp(prefix=f"aardtest-{stem}-"))
    path.chmod(0o755)
    return path


def run(
    argv: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = INSTALL_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run to completion without a shell; never raises on the exit code."""
    return subprocess.run(
        [os.fspath(a) for a in argv],
        env=dict(env) if env is not None else None,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def pip_env() -> dict[str, str]:
    """The host's pip settings (a CA bundle for a TLS-inspecting proxy, timeouts):
    another user's pip needs them too."""
    return {k: v for k, v in os.environ.items() if k.startswith("PIP_")}


def clean_env(**extra: str) -> dict[str, str]:
    """The host's environment without the test venv's traces (an installed aardcheck
    must not import the checkout through PYTHONPATH or the venv)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "CONTAINER_HOST")
    }
    venv_bin = str(Path(os.environ.get("VIRTUAL_ENV", REPO_ROOT / ".venv")) / "bin")
    env["PATH"] = ":".join(p for p in env.get("PATH", "").split(":") if p and p != venv_bin)
    return env | extra
