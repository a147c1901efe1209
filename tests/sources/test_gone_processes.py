"""Containers podman lists as up whose process is gone (podman 5.4 after conmon died)."""

from __future__ import annotations

import os
import subprocess

from aardcheck.models import Container
from aardcheck.sources.podman_api import mark_gone_processes


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _up(cid: str, pid: int, state: str = "running") -> Container:
    return Container(id=cid, name=f"c{cid}", state=state, pid=pid)


def test_a_running_container_without_its_process_is_not_running() -> None:
    dead = _dead_pid()
    marked = mark_gone_processes((_up("a", os.getpid()), _up("b", dead)))
    assert [(c.id, c.process_gone, c.running) for c in marked] == [
        ("a", False, True),
        ("b", True, False),
    ]


def test_nothing_is_marked_when_no_listed_pid_exists_here() -> None:
    """Another pid namespace (aardcheck in a container using the host's socket)."""
    containers = (_up("a", _dead_pid()), _up("b", _dead_pid()))
    assert mark_gone_processes(containers) == containers


def test_stopped_and_pidless_containers_are_left_as_they_are() -> None:
    containers = (
        _up("a", os.getpid()),
        _up("b", 0),
        _up("c", _dead_pid(), state="exited"),
    )
    assert mark_gone_processes(containers) == containers
