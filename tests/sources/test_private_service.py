"""The private API service a one-shot command starts before its imports (``prestart``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.sources import private_service


class FakeService:
    def __init__(self) -> None:
        self.stopped = False


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    made: list[Any] = []

    def spawn() -> Any:
        tmp = tmp_path / f"svc{len(made)}"
        tmp.mkdir()
        (tmp / "podman.sock").touch()  # "listening" at once
        started = (FakeService(), f"unix://{tmp / 'podman.sock'}", tmp)
        made.append(started)
        return started

    def stop(proc: FakeService, tmp: Path) -> None:
        proc.stopped = True

    monkeypatch.setattr(private_service, "_spawn", spawn)
    monkeypatch.setattr(private_service, "stop_private_service", stop)
    monkeypatch.setattr(private_service, "_prestarted", [])
    return made


def test_started_early_only_where_connect_would_start_one(
    spawned: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    present = tmp_path / "podman.sock"
    present.touch()
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{present}")
    assert private_service.prestart() == str(present)
    assert spawned == []  # a socket is there: connect asks it
    monkeypatch.setenv("CONTAINER_HOST", "ssh://core@host/run/podman/podman.sock")
    assert private_service.prestart() is None
    assert spawned == []  # a remote URL: connect never starts a service for it
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path / 'absent.sock'}")
    first = private_service.prestart()
    assert private_service.prestart() == first
    assert len(spawned) == 1  # once
    assert first == str(spawned[0][2] / "podman.sock")  # the service's socket is asked
    assert private_service.take_prestarted(1.0) == spawned[0]
    assert private_service.take_prestarted(1.0) is None


def test_a_service_nobody_took_is_stopped_at_exit(
    spawned: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path / 'absent.sock'}")
    private_service.prestart()
    private_service._stop_prestarted()
    assert spawned[0][0].stopped


@pytest.mark.podman
def test_a_command_that_fails_before_asking_podman_leaves_no_service(tmp_path: Path) -> None:
    """Real podman: ``preflight`` without a compose file fails before it connects; the
    service started for it is gone when the command has exited."""
    own_tmp, bin_dir = tmp_path / "tmp", tmp_path / "bin"
    own_tmp.mkdir()
    bin_dir.mkdir()
    calls = tmp_path / "podman-calls"
    real = shutil.which("podman")
    assert real is not None
    wrapper = bin_dir / "podman"  # records the call, then is the real podman
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "TMPDIR": str(own_tmp),
        "CONTAINER_HOST": f"unix://{tmp_path}/none",
    }
    done = subprocess.run(
        [sys.executable, "-m", "aardcheck", "preflight", "--no-watcher"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "compose" in done.stderr.lower(), done
    assert "system service" in calls.read_text()  # it was started early
    assert list(own_tmp.iterdir()) == []  # its socket directory was removed
    mine = subprocess.run(["pgrep", "-f", str(own_tmp)], capture_output=True, check=False)
    assert mine.stdout == b""  # and no podman system service of it runs


def test_a_podman_that_cannot_be_run_is_an_environment_error_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A ``podman`` on PATH that the kernel will not execute (no shebang, not a binary):
    a one-line environment error, and the service's temporary directory is removed."""
    own_tmp, bin_dir = tmp_path / "tmp", tmp_path / "bin"
    own_tmp.mkdir()
    bin_dir.mkdir()
    broken = bin_dir / "podman"
    broken.write_text("not a program\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    with pytest.raises(EnvironmentUnavailable, match=r"could not start .*system service"):
        private_service.start_private_service(timeout=5)
    assert list(own_tmp.iterdir()) == []
