"""A real podman-compose project for tests: two busybox services on a pinned subnet.

Names carry the session prefix (project ``<prefix>pfN``, so networks and containers do
too); the subnet comes from the harness's own pool, away from podman's 10.89/16, so
leftover files of other tests never poison these projects and the reverse.
Cleanup (``podman-compose down`` and the pod, which has no prefix) is registered as a
session finalizer; the harness removes prefixed containers, networks and files.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from subprocess import CompletedProcess

from tests.realpodman import IMAGE, PodmanHost, run_aardcheck
from tests.realpodman.invoke import python_for

COMPOSE_TIMEOUT = 240.0
SERVICES = ("web", "db")


def podman_compose_program() -> str:
    found = shutil.which("podman-compose")
    return found or str(Path(sys.executable).parent / "podman-compose")


def compose_text(subnet: str) -> str:
    services = "".join(
        f"  {svc}:\n    image: {IMAGE}\n    command: [sleep, '3600']\n" for svc in SERVICES
    )
    return (
        f"services:\n{services}"
        "networks:\n  default:\n    ipam:\n      config:\n"
        f"        - subnet: {subnet}\n"
    )


class Stack:
    """One compose project of the session."""

    def __init__(self, host: PodmanHost, stem: str = "pf") -> None:
        self.host = host
        self.project = host.session.new_name(stem)
        self.directory = host.session.scratch_dir(stem)
        self.file = self.directory / "compose.yaml"
        self.file.write_text(compose_text(host.free_subnet()))
        host.session.add_finalizer(self.remove)

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    @property
    def args(self) -> list[str]:
        """podman-compose's (and aardcheck preflight's) options naming this project."""
        return ["-f", str(self.file), "-p", self.project]

    def compose(
        self, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> CompletedProcess[str]:
        """podman-compose as the host's user (through runuser for a rootless one)."""
        # A rootless user runs it as a module of an interpreter it can execute: the venv's
        # script names the checkout's path in its #! line, which a CI clone under /root
        # closes to other users.
        program = (
            [python_for(self.host), "-m", "podman_compose"]
            if self.host.user
            else [podman_compose_program()]
        )
        return self.host.exec(
            *program,
            *self.args,
            *args,
            extra_env=env,
            timeout=COMPOSE_TIMEOUT,
            check=check,
        )

    def up(self) -> None:
        self.compose("up", "-d")

    def down(self) -> None:
        self.compose("down", "-t", "0")

    def members(self) -> list[str]:
        label = f"label=io.podman.compose.project={self.project}"
        listed = self.host.podman_json("ps", "-a", "--filter", label, "--format", "json") or []
        return [str(c["Names"][0]) for c in listed]

    def remove(self) -> None:
        self.compose("down", "-t", "0", check=False)
        self.host.podman("pod", "rm", "-f", f"pod_{self.project}", check=False)


#: podman's container listing fails (HTTP 500) while any container on the host has a
#: vanished network namespace that podman has not removed yet - tests running at the
#: same time on this host make such containers on purpose. Such a run says so (exit 3);
#: try again, bounded (API_TRIES x API_PAUSE seconds).
API_TRIES = 10
API_PAUSE = 3.0
TRANSIENT = ("podman API", "podman cannot list containers")


def aardcheck(
    *args: str, host: PodmanHost, env: Mapping[str, str] | None = None
) -> CompletedProcess[str]:
    """``run_aardcheck`` with a bounded retry of transient podman API failures."""
    for _ in range(API_TRIES - 1):
        proc = run_aardcheck(*args, host=host, env=env)
        if proc.returncode != 3 or not any(t in proc.stderr for t in TRANSIENT):
            return proc
        time.sleep(API_PAUSE)
    return run_aardcheck(*args, host=host, env=env)
