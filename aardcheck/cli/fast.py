"""The cold path without typer: plain argv of ``check``, ``clean``, ``preflight``,
``compose`` and ``lint`` parsed here and handed to the same bodies (``aardcheck.cli.run``).

Why a second parser beside the typer commands: importing typer and the click it vendors
costs 30-50 ms, a quarter of a cold ``check --no-probe`` (docs/benchmarks.md), and these
commands run before every ``podman-compose up`` and from cron. This parser takes only
argv it is sure of - known options, values that convert, nothing unusual - and gives up on
everything else: help, ``--version``, unknown options, a usage error, ``--``, a value
starting with ``-``. Then typer parses, so every message and help text stays typer's.
``tests/cli/test_fast.py`` holds each table against the typer command's click parameters
and checks, with generated argv, that both fronts hand the body the same values.
"""

from __future__ import annotations

import enum
import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aardcheck.cli.common import OutputFormat, StrategyChoice

Convert = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Option:
    dest: str
    flags: tuple[str, ...]
    kind: Literal["flag", "value", "multi"] = "value"
    convert: Convert = str
    default: Any = None


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    options: tuple[Option, ...]
    #: the name of a variadic positional argument, if the command has one
    arguments: str | None = None
    argument_convert: Convert = str
    #: ``compose``: options only up to the first argument, unknown ones are arguments too
    pass_through: bool = False


@dataclass(frozen=True, slots=True)
class Ranged:
    """A number within bounds (click's IntRange / FloatRange, closed)."""

    kind: type[int] | type[float]
    low: float | None
    high: float | None

    def __call__(self, text: str) -> int | float:
        value = self.kind(text)
        if math.isnan(value) or (self.low is not None and value < self.low):
            raise ValueError(text)
        if self.high is not None and value > self.high:
            raise ValueError(text)
        return value


def _choice(kind: type[enum.StrEnum]) -> Convert:
    return kind  # the enum's constructor: ValueError for anything but a member's value


def _flag(dest: str, *flags: str) -> Option:
    return Option(dest, flags, "flag", default=False)


_NETWORK = Option("network", ("--network", "-n"), "multi")
_FORMAT = Option(
    "output", ("--format", "-o"), convert=_choice(OutputFormat), default=OutputFormat.text
)
_RUN_DIR = Option("run_dir", ("--run-dir",), convert=Path)
_URL = Option("url", ("--url",))
_TEXTFILE = Option("textfile_dir", ("--textfile-dir",), convert=Path)
_AARDVARK = Option("aardvark_version", ("--aardvark-version",))
_NO_WATCHER = _flag("no_watcher", "--no-watcher")

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command(
            "check",
            (
                _NETWORK,
                _FORMAT,
                _flag("no_probe", "--no-probe"),
                Option("probe_count", ("--probe-count",), convert=Ranged(int, 1, 20), default=3),
                Option(
                    "probe_timeout",
                    ("--probe-timeout",),
                    convert=Ranged(float, 0.05, 30),
                    default=1.0,
                ),
                _RUN_DIR,
                _URL,
                _AARDVARK,
                _TEXTFILE,
                _NO_WATCHER,
            ),
        ),
        Command(
            "clean",
            (
                _NETWORK,
                _flag("dry_run", "--dry-run"),
                Option("wait", ("--wait",), convert=Ranged(float, 0, 3600), default=10.0),
                Option("lock_file", ("--lock-file",), convert=Path),
                _RUN_DIR,
                _URL,
                _TEXTFILE,
                _NO_WATCHER,
            ),
        ),
        Command(
            "preflight",
            (
                Option("file", ("--file", "-f"), "multi"),
                Option("project_name", ("--project-name", "-p")),
                Option("env_file", ("--env-file",), default=".env"),
                Option("profile", ("--profile",), "multi"),
                _flag("fix", "--fix"),
                Option(
                    "strategy",
                    ("--strategy",),
                    convert=_choice(StrategyChoice),
                    default=StrategyChoice.prune,
                ),
                _flag("probe", "--probe"),
                _FORMAT,
                _RUN_DIR,
                _URL,
                _NO_WATCHER,
            ),
        ),
        Command("lint", (_AARDVARK, _FORMAT), arguments="paths", argument_convert=Path),
        Command(
            "compose",
            (
                _flag("force", "--force"),
                _flag("fix", "--fix"),
                Option("podman_compose", ("--podman-compose",)),
            ),
            arguments="args",
            pass_through=True,
        ),
    )
}


#: Commands that always ask podman's API (``compose`` may not: it becomes podman-compose).
ASKS_PODMAN = frozenset({"check", "clean", "preflight"})


class _NotPlain(Exception):
    """argv this parser leaves to typer."""


def parse(command: Command, argv: Sequence[str]) -> dict[str, Any] | None:
    """The body's keyword arguments, as typer would pass them; None: let typer parse."""
    try:
        return _parse(command, list(argv))
    except (_NotPlain, ValueError):
        return None


def _parse(command: Command, args: list[str]) -> dict[str, Any]:
    by_flag = {flag: option for option in command.options for flag in option.flags}
    values: dict[str, Any] = {option.dest: option.default for option in command.options}
    many: dict[str, list[Any]] = {}
    positional: list[str] = []
    while args:
        token = args.pop(0)
        if token in {"--help", "--"}:
            raise _NotPlain(token)
        option, inline = (None, None) if _is_argument(token) else _match(by_flag, token)
        if option is None:
            if command.arguments is None or (not _is_argument(token) and not command.pass_through):
                raise _NotPlain(token)
            positional.append(token)  # compose: click's ignore_unknown_options keeps it
            if command.pass_through and _is_argument(token):
                positional += args  # the rest is podman-compose's
                break
        elif option.kind == "flag":
            if inline is not None:
                raise _NotPlain(token)
            values[option.dest] = True
        elif option.kind == "multi":
            many.setdefault(option.dest, []).append(_value(option, inline, args))
        else:
            values[option.dest] = _value(option, inline, args)
    values.update(many)
    if command.arguments is not None:
        values[command.arguments] = [command.argument_convert(a) for a in positional] or None
    return values


def _is_argument(token: str) -> bool:
    return not token.startswith("-") or token == "-"


def _value(option: Option, inline: str | None, args: list[str]) -> Any:
    if inline is None:
        if not args or args[0].startswith("-"):
            raise _NotPlain(option.flags[0])
        inline = args.pop(0)
    return option.convert(inline)


def _match(by_flag: dict[str, Option], token: str) -> tuple[Option | None, str | None]:
    """The option a token names, and a value given in the same token (``--x=V``, ``-nV``)."""
    if token in by_flag:
        return by_flag[token], None
    if token.startswith("--"):
        name, equals, value = token.partition("=")
        if equals and name in by_flag:
            return by_flag[name], value
        if name in by_flag:
            raise _NotPlain(token)
        return None, None
    short = by_flag.get(token[:2])
    if short is not None and short.kind != "flag":
        return short, token[2:]
    return None, None


def _first_socket(url: str | None) -> str | None:
    """The unix socket the command will ask first: ``--url``'s, else the default one or
    the private service started now in its place (None: not a unix socket)."""
    if url:
        return os.path.normpath(url.removeprefix("unix://")) if url.startswith("unix://") else None
    from aardcheck.sources.private_service import prestart

    return prestart()


#: Commands that only read: when their body has written its output, the process ends
#: without the interpreter's teardown (``exit_at_once``).
EXITS_AT_ONCE = frozenset({"check", "lint"})


def exit_at_once(code: object) -> None:
    """End the process with ``code`` (as SystemExit would) without the interpreter's
    teardown: after a check every imported module and object is freed one by one, ~25 ms
    of a cold check that has already said everything (issue 12, docs/benchmarks.md).

    Only when the teardown has nothing left to do but free memory: the atexit handlers
    run (a private API service is stopped there) and the output is flushed first, and
    while a thread that is not a daemon still runs, the normal exit (which joins it) is
    taken - this returns and the caller re-raises."""
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # SystemExit's own rule: anything else is printed, and the status is 1
        sys.stderr.write(f"{code}\n")
        status = 1
    import atexit

    atexit._run_exitfuncs()  # the handlers os._exit would skip (a private service)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # as in ``run``: a reader that went away
        status = 1
    os._exit(status)


def run(argv: Sequence[str]) -> None:
    """Run the command when argv is plain (never returns then); else return at once."""
    if not argv or argv[0] not in COMMANDS:
        return
    command = COMMANDS[argv[0]]
    params = parse(command, argv[1:])
    if params is None:
        return
    # podman's service starts, and answers the check's first requests, while Python
    # imports what the command needs
    if command.name in ASKS_PODMAN and (sock := _first_socket(params.get("url"))) is not None:
        from aardcheck.sources import prefetch

        prefetch.begin(sock)
    from aardcheck.cli import run as bodies

    body: Callable[..., Any] = getattr(bodies, command.name)
    try:
        body(**params)
    except SystemExit as done:
        if command.name in EXITS_AT_ONCE:
            exit_at_once(done.code)
        raise
    except BrokenPipeError:
        # as click does: a reader that went away (``| head``) is exit 1, without a trace
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except (KeyboardInterrupt, EOFError):
        sys.stderr.write("\nAborted!\n")  # click's words for the same interruption
        raise SystemExit(1) from None
