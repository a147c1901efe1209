"""Command lines, the clean plan filter and lock, and ``compose`` passing through."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aardcheck.cli.app import app
from aardcheck.compose.project import ComposeArgs, ComposeError, parse_compose_argv
from aardcheck.repair.plan import (
    DeleteFile,
    PruneLines,
    RecreateNetwork,
    ReloadContainer,
    RepairPlan,
)
from aardcheck.runner.clean import exclusive, unambiguous

A = ComposeArgs


# fmt: off
ARGV = [
    (["up", "-d"], A(), "up", ("-d",)),
    (["-f", "a.yml", "-f", "b.yml", "-p", "x", "up", "-d", "--force-recreate"], A(files=("a.yml", "b.yml"), project_name="x"), "up", ("-d", "--force-recreate")),  # noqa: E501
    (["--file=a.yml", "--project-name=x", "run", "web", "sh"], A(files=("a.yml",), project_name="x"), "run", ("web", "sh")),  # noqa: E501
    (["--project", "abbrev", "ps"], A(project_name="abbrev"), "ps", ()),
    (["-pfoo", "-p", "bar", "down"], A(project_name="bar"), "down", ()),
    (["--env-file", "prod.env", "--profile", "dbg", "up"], A(env_file="prod.env", profiles=("dbg",)), "up", ()),  # noqa: E501
    (["--in-pod", "false", "--podman-run-args=--x", "--dry-run", "up"], A(), "up", ()),
    (["--help"], A(), None, ()),
    (["-v"], A(), None, ()),
    ([], A(), None, ()),
]
# fmt: on


@pytest.mark.parametrize(
    ("argv", "args", "command", "rest"), ARGV, ids=[" ".join(a[0]) for a in ARGV]
)
def test_compose_argv(
    argv: list[str], args: ComposeArgs, command: str | None, rest: tuple[str, ...]
) -> None:
    got = parse_compose_argv(argv)
    assert (got.args, got.command, got.command_args) == (args, command, rest)


@pytest.mark.parametrize("argv", [["--bogus", "up"], ["-f"]])
def test_compose_argv_errors(argv: list[str]) -> None:
    with pytest.raises(ComposeError):
        parse_compose_argv(argv)


def prune(reason: str) -> PruneLines:
    return PruneLines("n", "/run/n", "c" * 64, ("web",), (2,), reason)


def test_clean_keeps_only_the_unambiguous() -> None:
    plan = RepairPlan(
        actions=(
            prune("dead-entry"),
            prune("duplicate-entry"),
            prune("dead-entry, duplicate-entry"),
            prune("stopped-entry"),
            prune("address-conflict, dead-entry"),
            prune("wrong-address"),
            DeleteFile("gone", "/run/gone", "network 'gone' no longer exists"),
            ReloadContainer("n", "c" * 64, "web", "rewrite"),
            RecreateNetwork("n", ("web",), "file cannot be trusted"),
        ),
        skipped=(),
    )
    kept = unambiguous(plan).actions
    assert kept == (*plan.actions[:3], plan.actions[6])


def test_clean_lock_busy(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "clean.lock"
    with exclusive(lock, wait=0):
        assert lock.read_text() == f"{os.getpid()}\n"
        result = CliRunner().invoke(app, ["clean", "--lock-file", str(lock), "--wait", "0"])
    assert result.exit_code == 5
    assert f"another aardcheck clean (pid {os.getpid()}) holds {lock}" in result.output


def test_clean_lock_released(tmp_path: Path) -> None:
    lock = tmp_path / "clean.lock"
    with exclusive(lock, wait=0):
        pass
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(fd)


FAKE_COMPOSE = """#!/bin/sh
printf '%s\\n' "$@" > "$OUT"
printf 'env=%s\\n' "$AARDTEST_MARK" >> "$OUT"
exit 7
"""


def test_compose_passes_everything_through(tmp_path: Path) -> None:
    """A command without pre-flight: podman-compose gets the same argv and environment,
    and its exit code is aardcheck's (it replaces the aardcheck process)."""
    fake = tmp_path / "podman-compose"
    fake.write_text(FAKE_COMPOSE)
    fake.chmod(0o755)
    out = tmp_path / "out"
    argv = ["-f", "my file.yml", "-p", "x", "logs", "--tail", "5", "--force", "web;rm -rf /"]
    env = os.environ | {"OUT": str(out), "AARDTEST_MARK": "kept"}
    repo = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = repo
    proc = subprocess.run(
        [sys.executable, "-m", "aardcheck", "compose", "--podman-compose", str(fake), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 7, proc.stderr
    assert out.read_text().splitlines() == [*argv, "env=kept"]


def test_compose_refuses_unparsable_up_without_force(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["compose", "--podman-compose", "/bin/true", "-f", str(tmp_path / "no.yml"), "up"]
    )
    assert result.exit_code == 2
    assert "pre-flight failed" in result.output and "--force" in result.output
