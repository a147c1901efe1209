"""The code before the optimisations, checked out beside the working tree for before/after.

``git archive REV aardcheck`` into a temporary directory; a process measures it when that
directory comes first on PYTHONPATH and its working directory is not the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The last commit before issue 12's work (no /info, stdlib API client, typer<0.29, the
#: watcher's answers); issue 7's before/after used 61ff63d.
DEFAULT_REV = "a4ac94d"


@dataclass(frozen=True)
class Baseline:
    rev: str
    tree: Path

    @property
    def label(self) -> str:
        return f"baseline {self.rev}"

    def remove(self) -> None:
        shutil.rmtree(self.tree, ignore_errors=True)


def check_out(rev: str) -> tuple[Baseline | None, str]:
    """The package at ``rev`` in a temporary directory, or None and why not."""
    try:
        full = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--verify", "--short", f"{rev}^{{commit}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
        return None, f"revision {rev!r} is not available ({err})"
    tree = Path(tempfile.mkdtemp(prefix="aardbench-baseline-"))
    tree.chmod(0o755)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", full, "aardcheck"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if archive.returncode != 0:
        shutil.rmtree(tree, ignore_errors=True)
        return None, f"git archive {full} failed: {archive.stderr.decode(errors='replace')}"
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True, timeout=60)
    return Baseline(full, tree), ""
