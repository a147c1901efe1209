"""What every command shares and that needs no typer: output formats, the one-line error
with its exit code, and domain errors turned into exit codes.

typer-free on purpose: the cold path of ``check``, ``clean``, ``preflight``, ``compose``
and ``lint`` runs without importing typer (``aardcheck.cli.fast``).
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import TypeVar

from aardcheck.errors import AardcheckError, ExitCode

T = TypeVar("T")


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


class StrategyChoice(enum.StrEnum):
    prune = "prune"
    recreate = "recreate"


def say(text: str, *, err: bool = False, end: str = "\n") -> None:
    """One message, flushed at once (as click.echo does), on stdout or stderr."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}{end}")
    stream.flush()


def fail(message: str, code: ExitCode) -> SystemExit:
    """Print the one-line error to stderr and return the exit to raise.

    A plain SystemExit rather than typer.Exit: click lets it through with its code, and
    the typer-free cold path raises the same.
    """
    from aardcheck.report.visible import escape

    # escape: podman's messages and container names may hold newlines; one line it is.
    say(f"aardcheck: error: {escape(message)}", err=True)
    return SystemExit(int(code))


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
