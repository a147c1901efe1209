"""The typer-free front (``aardcheck.cli.fast``) against the typer commands.

Whatever argv the fast parser accepts, typer must accept too and hand the command's body
exactly the same values; whatever it declines, typer parses (so declining is always safe,
accepting is what these tests hold to account).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer.main
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aardcheck.cli import run as bodies
from aardcheck.cli.app import app
from aardcheck.cli.common import OutputFormat
from aardcheck.cli.fast import COMMANDS, Command, Ranged, parse

FIXTURE = Path(__file__).parents[2] / "fixtures" / "aardvark"


def _click_command(name: str) -> Any:
    """The click command typer builds (typer 0.28 vendors click: no ``import click``)."""
    return typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]


def _typer_values(name: str, argv: list[str]) -> tuple[int, dict[str, Any] | None, str]:
    """What typer hands the body for ``aardcheck NAME ARGV``."""
    seen: dict[str, Any] = {}

    def record(**kwargs: Any) -> None:
        seen.update(kwargs)

    with mock.patch.object(bodies, name, record):
        result = CliRunner().invoke(app, [name, *argv])
    return result.exit_code, (seen or None), result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_names_every_option_of_the_typer_command(name: str) -> None:
    command = COMMANDS[name]
    fast = {flag: option for option in command.options for flag in option.flags}
    for param in _click_command(name).params:
        if param.param_type_name == "argument":
            assert param.name == command.arguments and param.nargs == -1
            continue
        assert param.param_type_name == "option"
        flags = [f for f in (*param.opts, *param.secondary_opts) if f != "--help"]
        assert flags, param
        option = fast[flags[0]]
        assert set(option.flags) == set(flags), param.name
        assert option.dest == param.name
        assert option.kind == ("flag" if param.is_flag else "multi" if param.multiple else "value")
        assert param.envvar is None  # the fast parser reads no environment
        bounds = (getattr(param.type, "min", None), getattr(param.type, "max", None))
        if isinstance(option.convert, Ranged):
            assert (option.convert.low, option.convert.high) == bounds
        else:
            assert bounds == (None, None)
    params = _click_command(name).params
    named = {p.name for p in params if p.param_type_name == "option"}
    assert {o.dest for o in command.options} == named - {"help"}


PLAIN = [
    ("check", ["--no-probe", "-n", "a", "--network=b", "-nc", "--format", "json"]),
    ("check", ["--probe-count", "5", "--probe-timeout=0.5", "--no-watcher"]),
    ("check", []),
    ("clean", ["--dry-run", "--wait", "0", "--lock-file", "/tmp/x.lock", "-n", "net"]),
    ("preflight", ["-f", "a.yml", "--file", "b.yml", "-p", "proj", "--profile", "x"]),
    ("preflight", ["--fix", "--strategy", "recreate", "--probe", "-o", "json"]),
    ("lint", ["a", "b", "--format", "json", "--aardvark-version", "1.4.0"]),
    ("lint", []),
    ("compose", ["--force", "-f", "c.yml", "up", "-d", "--fix"]),
    ("compose", ["--podman-compose", "/bin/pc", "--verbose", "--fix", "up"]),
]


@pytest.mark.parametrize(("name", "argv"), PLAIN)
def test_plain_argv_parsed_as_typer_does(name: str, argv: list[str]) -> None:
    fast = parse(COMMANDS[name], argv)
    assert fast is not None
    code, typer_values, output = _typer_values(name, argv)
    assert code == 0, output
    assert fast == typer_values


def test_declines_what_typer_explains() -> None:
    for name, argv in [
        ("check", ["--help"]),
        ("check", ["--bogus"]),
        ("check", ["--probe-count", "0"]),
        ("check", ["--format", "yaml"]),
        ("check", ["--no-probe=1"]),
        ("check", ["extra"]),
        ("check", ["--network"]),
        ("lint", ["--", "-weird"]),
        ("compose", ["--help"]),
        ("compose", ["--podman-compose"]),
    ]:
        assert parse(COMMANDS[name], argv) is None, (name, argv)


def _tokens(command: Command) -> st.SearchStrategy[list[str]]:
    values = ["0", "1", "3", "20", "21", "0.04", "0.5", "nan", "-1", "text", "json", "JSON"]
    values += ["prune", "recreate", "x", "", "a b", "/tmp/p", "up", "-d", "-", "--"]
    flags = [f for o in command.options for f in o.flags]
    token = st.one_of(
        st.sampled_from(flags),
        st.sampled_from(values),
        st.builds(lambda f, v: f"{f}={v}", st.sampled_from(flags), st.sampled_from(values)),
        st.builds(lambda f, v: f"{f}{v}", st.sampled_from(flags), st.sampled_from(values)),
        st.sampled_from(["--help", "-h", "--bogus", "-zz", "--version"]),
    )
    return st.lists(token, max_size=8)


@pytest.mark.parametrize("name", sorted(COMMANDS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_generated_argv_accepted_only_as_typer_parses_it(name: str, data: st.DataObject) -> None:
    argv = data.draw(_tokens(COMMANDS[name]))
    fast = parse(COMMANDS[name], argv)
    if fast is None:
        return  # typer parses it: nothing to compare
    code, typer_values, output = _typer_values(name, argv)
    assert code == 0, (argv, output)
    assert fast == typer_values, argv


def test_a_plain_command_runs_without_typer() -> None:
    """The point of the fast front: ``lint FILE`` (no podman needed) never imports typer."""
    files = sorted(p for p in FIXTURE.rglob("*") if p.is_file())
    program = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('typer' in sys.modules, 'rich' in sys.modules))\n"
        "from aardcheck.__main__ import main\n"
        "main()\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", program, "lint", str(files[0])],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ran.stdout.splitlines()[-1] == "False False", ran
    helped = subprocess.run(
        [sys.executable, "-c", program, "lint", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert helped.returncode == 0 and "Usage" in helped.stdout
    assert helped.stdout.splitlines()[-1].startswith("True"), helped


def test_output_format_default_is_the_typer_default() -> None:
    assert parse(COMMANDS["check"], []) == parse(COMMANDS["check"], ["-o", "text"])
    assert (parse(COMMANDS["check"], []) or {})["output"] is OutputFormat.text


def test_the_entry_point_sends_exactly_the_fast_commands_to_the_fast_front() -> None:
    from aardcheck.__main__ import FAST_COMMANDS

    assert set(COMMANDS) == FAST_COMMANDS


def _python(program: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", program, *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_read_only_command_ends_without_the_teardown_but_runs_the_exit_handlers() -> None:
    """``lint`` (as ``check``) skips the interpreter's teardown (issue 12): an object freed
    only by the teardown says nothing, an atexit handler still runs and prints, the output
    and the exit code are the ones the normal exit gives."""
    files = [str(p) for p in sorted(FIXTURE.rglob("*")) if p.is_file() and "symlink" not in str(p)]
    program = (
        "import atexit, sys\n"
        "class Torn:\n"
        "    def __del__(self): sys.stderr.write('torn down\\n')\n"
        "kept = Torn()\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "from aardcheck.__main__ import main\n"
        "main()\n"
    )
    fast = _python(program, "lint", *files)
    normal = _python(program.replace("main()", "from aardcheck.cli.app import main; main()"),
                     "lint", *files)  # fmt: skip
    assert fast.stdout.splitlines()[-1] == "handler ran", fast
    assert "torn down" not in fast.stderr
    assert "torn down" in normal.stderr  # the probe object works: the teardown frees it
    assert (fast.returncode, fast.stdout) == (normal.returncode, normal.stdout)
    assert fast.returncode in (0, 1)


def test_a_thread_still_running_gets_the_normal_exit() -> None:
    program = (
        "import threading, time\n"
        "from aardcheck.cli.fast import exit_at_once\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
        "exit_at_once(3)\n"
        "print('returned', flush=True)\n"
        "raise SystemExit(3)\n"
    )
    ran = _python(program)
    assert ran.returncode == 3
    assert ran.stdout.split() == ["returned", "thread", "done"]


@pytest.mark.parametrize(
    ("code", "status", "stderr"), [(None, 0, ""), (4, 4, ""), ("why", 1, "why\n")]
)
def test_the_exit_status_follows_system_exit(code: object, status: int, stderr: str) -> None:
    program = (
        "import sys\n"
        "from aardcheck.cli.fast import exit_at_once\n"
        "sys.stdout.write('buffered')\n"
        f"exit_at_once({code!r})\n"
        "raise SystemExit('not reached')\n"
    )
    ran = _python(program)
    assert (ran.returncode, ran.stdout, ran.stderr) == (status, "buffered", stderr)
