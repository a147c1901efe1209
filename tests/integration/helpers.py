"""Small helpers shared by the real-podman integration tests."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.realpodman import PodmanHost
from tests.realpodman.invoke import run_aardcheck


def check_json(host: PodmanHost, *networks: str, extra: tuple[str, ...] = ()) -> tuple[int, Any]:
    args = ["check", "--format", "json", *extra]
    for n in networks:
        args += ["--network", n]
    proc = run_aardcheck(*args, host=host)
    assert proc.stdout, f"no JSON on stdout (exit {proc.returncode}): {proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


def kinds(doc: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(kind, network, container_id, address) of every finding."""
    return {(f["kind"], f["network"], f["container_id"], f["address"]) for f in doc["findings"]}


def fix(
    host: PodmanHost, *networks: str, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    args = ["fix", "--yes", *extra]
    for n in networks:
        args += ["--network", n]
    return run_aardcheck(*args, host=host)
