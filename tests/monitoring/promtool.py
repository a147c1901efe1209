"""promtool (Debian's ``prometheus`` package, installed by scripts/setup-host.sh).

Missing promtool fails the test in CI on the host. The podman 5 lane's Debian 13 tree
carries no prometheus package, so there (``AARDTEST_STACK=podman5``) a test that needs
promtool is skipped: the host lane runs the same checks. Locally it is skipped too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.realpodman import in_ci

REPO_ROOT = Path(__file__).resolve().parents[2]
MONITORING = REPO_ROOT / "monitoring"


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("AARDTEST_STACK") == "podman5":
        pytest.skip("promtool is not in the podman 5 lane's tree; the host lane runs this")
    if in_ci():
        pytest.fail("promtool missing: scripts/setup-host.sh installs `prometheus`", pytrace=False)
    pytest.skip("promtool missing (apt-get install prometheus)")


def run_promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``promtool ARGS``; never raises on its exit code."""
    return subprocess.run(
        [promtool(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )
