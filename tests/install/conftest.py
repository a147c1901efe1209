"""The install paths are the host's: they download aardcheck's dependencies from PyPI
(pip, pipx, ``python -m build``). The podman 5 lane runs in a network namespace with
only loopback, so there they are skipped with that reason; the host lane (podman 4,
CI) always runs them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="module")  # before the modules' own installs
def _host_lane_only() -> None:
    if os.environ.get("AARDTEST_STACK") == "podman5":
        pytest.skip(
            "install paths need PyPI; the podman 5 lane has no network (host lane runs them)"
        )
