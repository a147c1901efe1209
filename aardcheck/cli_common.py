"""Options, output formats and error handling shared by every command module."""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import typer

from aardcheck.errors import AardcheckError, ExitCode

T = TypeVar("T")


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


NetworkOpt = Annotated[
    list[str] | None,
    typer.Option("--network", "-n", help="Only this network (repeatable). Default: all."),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-o", help="Report format on stdout.")]
RunDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--run-dir",
        help="netavark run directory (holding aardvark-dns/). Default: asked from podman.",
    ),
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="podman API URL, e.g. unix:///run/podman/podman.sock. Default: the usual "
        "socket, else a private `podman system service` for this run.",
    ),
]
AardvarkVersionOpt = Annotated[
    str | None,
    typer.Option(
        "--aardvark-version",
        help="Judge files by this aardvark-dns release's grammar. Default: the installed one.",
    ),
]
NoWatcherOpt = Annotated[
    bool,
    typer.Option(
        "--no-watcher",
        help="Compute the answer here even when `aardcheck watch` runs and could give it "
        "(a watcher is asked first: aardcheck/__main__.py).",
    ),
]


def help_markup() -> Literal["rich"] | None:
    """How typer renders help and usage errors: click's plain text, unless a person at a
    terminal asks for rich's panels and colours with ``TYPER_USE_RICH=1``.

    Rendering with rich imports rich.markdown, markdown-it and pygments: 105-145 ms of a
    ~230 ms ``--help`` (docs/benchmarks.md), more than the whole help is allowed to cost.
    """
    wanted = os.environ.get("TYPER_USE_RICH", "").lower() in ("1", "true", "yes", "on")
    return "rich" if wanted and sys.stdout.isatty() else None


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print the one-line error to stderr and return the Exit to raise."""
    from aardcheck.report.text_report import escape

    # escape: podman's messages and container names may hold newlines; one line it is.
    typer.echo(f"aardcheck: error: {escape(message)}", err=True)
    return typer.Exit(int(code))


def guarded(call: Callable[[], T]) -> T:
    """Run a command body; domain errors become their documented exit code."""
    try:
        return call()
    except AardcheckError as err:
        raise fail(str(err), err.exit_code) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        # Not a finding and never "clean": something answered in a way we did not expect.
        raise fail(f"unexpected {type(err).__name__}: {err}", ExitCode.ENVIRONMENT) from None
    except KeyboardInterrupt:
        raise fail("interrupted", ExitCode.ENVIRONMENT) from None


def parse_version(text: str | None) -> object:
    from aardcheck.models import AardvarkVersion

    if text is None:
        return None
    try:
        return AardvarkVersion.parse(text)
    except ValueError as err:
        raise fail(f"--aardvark-version: {err}", ExitCode.USAGE) from None
