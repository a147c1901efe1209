"""``aardcheck --help`` without typer (``cli.top_help``): the same bytes as typer's, and
typer's own rendering wherever the kept text would not be (narrow terminal, rich, other
argv)."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import types
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from aardcheck.cli import top_help

PYTHON = sys.executable
SCRIPT = Path(PYTHON).with_name("aardcheck")


def typer_help(prog: str, columns: int = 80) -> str:
    """What typer prints for ``PROG --help`` with a terminal ``columns`` wide."""
    import typer.main

    from aardcheck.cli.app import app

    command = typer.main.get_command(app)
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, redirect_stdout(out):
        mp.setenv("COLUMNS", str(columns))
        mp.delenv("TYPER_USE_RICH", raising=False)
        with pytest.raises(SystemExit) as ended:
            command.main(["--help"], prog_name=prog)
    assert ended.value.code in (0, None)
    return out.getvalue()


@pytest.mark.parametrize("prog", ["aardcheck", "python -m aardcheck", "a" * top_help.LONGEST_PROG])
@pytest.mark.parametrize("columns", [80, 200])
def test_the_kept_text_is_typers(prog: str, columns: int) -> None:
    rendered = typer_help(prog, columns)
    kept = top_help.TEXT.replace("{prog}", prog)
    assert kept == rendered, (
        "aardcheck --help changed: paste this into aardcheck/cli/top_help.py TEXT:\n"
        + typer_help("{prog}")
    )


def run_help(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TYPER_USE_RICH")}
    return subprocess.run(
        [*argv, "-X", "importtime", "-m", "aardcheck", "--help"]
        if argv == (PYTHON,)
        else [*argv, "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        cwd="/",
    )


def imported_typer(stderr: str) -> bool:
    return any(line.split("|")[-1].strip() == "typer" for line in stderr.splitlines())


def test_python_m_prints_typers_help_without_typer() -> None:
    done = run_help(PYTHON)
    assert done.returncode == 0, done.stderr
    assert done.stdout == typer_help("python -m aardcheck")
    assert not imported_typer(done.stderr)


@pytest.mark.skipif(not SCRIPT.exists(), reason="no aardcheck script beside this Python")
def test_the_script_prints_its_own_name() -> None:
    done = run_help(str(SCRIPT))
    assert done.returncode == 0, done.stderr
    assert done.stdout == typer_help("aardcheck")


@pytest.mark.parametrize(
    ("env", "fast"),
    [
        ({"COLUMNS": "79"}, False),  # click wraps at 77 there: typer renders it
        ({"COLUMNS": "60"}, False),
        ({"COLUMNS": "120"}, True),
        ({"TYPER_USE_RICH": "1"}, True),  # not a terminal: rich is not used anyway
    ],
)
def test_who_renders_it(env: dict[str, str], fast: bool) -> None:
    done = run_help(PYTHON, env=env)
    assert done.returncode == 0, done.stderr
    assert imported_typer(done.stderr) is not fast
    assert done.stdout == typer_help("python -m aardcheck", int(env.get("COLUMNS", "80")))


def on_terminal(columns: int) -> tuple[str, str]:
    """``python -m aardcheck --help`` with stdout on a pseudo-terminal ``columns`` wide:
    what it printed (newlines as the terminal gives them) and its import profile."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TYPER_USE_RICH")}
    proc = subprocess.Popen(
        [PYTHON, "-X", "importtime", "-m", "aardcheck", "--help"],
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd="/",
    )
    os.close(follower)
    chunks: list[bytes] = []
    for _ in range(10_000):  # bounded: the help is a few kB
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, stderr = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0, stderr
    return b"".join(chunks).decode().replace("\r\n", "\n"), stderr


@pytest.mark.parametrize(("columns", "fast"), [(100, True), (80, True), (70, False)])
def test_on_a_terminal(columns: int, fast: bool) -> None:
    shown, profile = on_terminal(columns)
    assert imported_typer(profile) is not fast
    assert shown == typer_help("python -m aardcheck", columns)


@pytest.fixture
def main_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    module = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", module)
    yield module


@pytest.mark.parametrize(
    ("argv0", "package", "expected"),
    [
        ("/usr/local/bin/aardcheck", None, "aardcheck"),
        ("/x/aardcheck/__main__.py", "aardcheck", "python -m aardcheck"),
        ("/x/aardcheck/cli/app.py", "aardcheck.cli", "python -m aardcheck.cli.app"),
        ("/x/app.py", "", "app.py"),
    ],
)
def test_program_name_is_clicks(
    monkeypatch: pytest.MonkeyPatch,
    main_module: types.ModuleType,
    argv0: str,
    package: str | None,
    expected: str,
) -> None:
    from typer._click.utils import _detect_program_name

    main_module.__package__ = package
    monkeypatch.setattr(sys, "argv", [argv0, "--help"])
    assert top_help.program_name() == expected == _detect_program_name(_main=main_module)


def test_other_argv_is_left_to_typer(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help", "check"], ["-h"], [], ["check", "--help"]):
        top_help.show(argv)  # returns: nothing printed, nothing raised
    assert capsys.readouterr().out == ""
