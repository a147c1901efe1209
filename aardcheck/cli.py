"""The typer app: options, output routing, error -> exit code. No logic of its own.

Heavy libraries (podman, dnspython, watchdog) are imported inside the commands that need
them, so ``--help`` and ``lint`` start fast.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from aardcheck.errors import AardcheckError, ExitCode

app = typer.Typer(
    name="aardcheck",
    help="Find and repair stale, duplicate and dead aardvark-dns mappings on podman hosts.\n\n"
    "Exit codes: 0 clean, 1 findings, 2 usage error, 3 environment error (podman or a "
    "directory unavailable), 4 repair started but not completed, 5 another aardcheck "
    "holds the lock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print the one-line error to stderr and return the Exit to raise."""
    typer.echo(f"aardcheck: error: {message}", err=True)
    return typer.Exit(int(code))


def guarded(call: Callable[[], T]) -> T:
    """Run a command body; domain errors become their documented exit code."""
    try:
        return call()
    except AardcheckError as err:
        raise fail(str(err), err.exit_code) from None
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


@app.command()
def check(
    network: NetworkOpt = None,
    output: FormatOpt = OutputFormat.text,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Do not ask aardvark-dns from inside networks.")
    ] = False,
    probe_count: Annotated[
        int, typer.Option("--probe-count", min=1, max=20, help="Tries per name and type.")
    ] = 3,
    probe_timeout: Annotated[
        float, typer.Option("--probe-timeout", min=0.05, max=30, help="Seconds per query.")
    ] = 1.0,
    run_dir: RunDirOpt = None,
    url: UrlOpt = None,
    aardvark_version: AardvarkVersionOpt = None,
) -> None:
    """Cross-check every aardvark-dns line against podman and the resolver's answers."""
    from aardcheck.models import AardvarkVersion
    from aardcheck.runner import CheckOptions, run_check

    version = parse_version(aardvark_version)
    options = CheckOptions(
        networks=frozenset(network or ()),
        probe=not no_probe,
        probe_count=probe_count,
        probe_timeout=probe_timeout,
        run_dir=run_dir,
        url=url,
        aardvark_version=version if isinstance(version, AardvarkVersion) else None,
    )
    result = guarded(lambda: run_check(options))
    code = ExitCode.FINDINGS if result.findings else ExitCode.CLEAN
    if output is OutputFormat.json:
        from aardcheck.report import json_report

        sys.stdout.write(json_report.render(result, int(code)))
    else:
        from aardcheck.report import text_report

        sys.stdout.write(text_report.render(result, int(code)))
    raise typer.Exit(int(code))


@app.command()
def lint(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="aardvark files or directories. Default: every aardvark-dns directory "
            "this user can see."
        ),
    ] = None,
    aardvark_version: AardvarkVersionOpt = None,
    output: FormatOpt = OutputFormat.text,
) -> None:
    """Validate files against aardvark-dns's grammar only (no podman needed)."""
    from aardcheck.lint import lint_paths, render_json, render_text
    from aardcheck.models import AardvarkVersion

    version = parse_version(aardvark_version)
    results = guarded(
        lambda: lint_paths(
            list(paths or ()), version if isinstance(version, AardvarkVersion) else None
        )
    )
    bad = any(not r.ok for r in results)
    sys.stdout.write(render_json(results) if output is OutputFormat.json else render_text(results))
    raise typer.Exit(int(ExitCode.FINDINGS if bad else ExitCode.CLEAN))


def main() -> None:
    app()
