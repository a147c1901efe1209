"""promtool and node_exporter (Debian's ``prometheus`` and ``prometheus-node-exporter``,
installed by scripts/setup-host.sh).

A missing tool fails the test in CI on the host. The podman 5 lane's Debian 13 tree
carries neither package, so there (``AARDTEST_STACK=podman5``) a test that needs one is
skipped: the host lane runs the same checks. Locally it is skipped too.
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


def host_tool(name: str, package: str) -> str:
    """The path of Debian's ``name`` (from ``package``): fail in CI on the host, skip in
    the podman 5 lane (its tree has no such package) and locally."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("AARDTEST_STACK") == "podman5":
        pytest.skip(f"{name} is not in the podman 5 lane's tree; the host lane runs this")
    if in_ci():
        pytest.fail(f"{name} missing: scripts/setup-host.sh installs `{package}`", pytrace=False)
    pytest.skip(f"{name} missing (apt-get install {package})")


def promtool() -> str:
    return host_tool("promtool", "prometheus")


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
