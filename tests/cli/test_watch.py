"""The ``watch`` command's option handling (no podman needed)."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from aardcheck.cli.app import app

runner = CliRunner()


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["watch", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--network", "--fix", "--interval", "--format", "--metrics-port",
                   "--metrics-address", "--textfile-dir"):  # fmt: skip
        assert option in result.output


def test_metrics_port_and_textfile_are_alternatives(tmp_path: Path) -> None:
    result = runner.invoke(app, ["watch", "--metrics-port", "0", "--textfile-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "alternatives" in result.output


def test_textfile_dir_must_exist(tmp_path: Path) -> None:
    result = runner.invoke(app, ["watch", "--textfile-dir", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_interval_has_a_floor() -> None:
    assert runner.invoke(app, ["watch", "--interval", "0.1"]).exit_code == 2


def test_a_taken_metrics_port_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["watch", "--metrics-port", str(port)])
    assert result.exit_code == 2
    assert "cannot serve metrics" in result.output
