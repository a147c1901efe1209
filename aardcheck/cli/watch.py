"""``aardcheck watch``: options and one call into ``aardcheck.watch``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aardcheck.cli.common import OutputFormat, fail, guarded
from aardcheck.cli.options import NetworkOpt, RunDirOpt, UrlOpt
from aardcheck.errors import ExitCode


def watch(
    network: NetworkOpt = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Prune stale lines and orphan files as they appear (the prune strategy, "
            "rate-limited with back-off per network). Never reloads, restarts or "
            "re-creates anything.",
        ),
    ] = False,
    interval: Annotated[
        float,
        typer.Option("--interval", min=5, help="Full re-check at least every SECONDS."),
    ] = 300.0,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-o",
            help="text: transitions as lines on stderr. json: one JSON object per "
            "transition (and repair) on stdout.",
        ),
    ] = OutputFormat.text,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve Prometheus metrics on this port (0: any free port).",
        ),
    ] = None,
    metrics_address: Annotated[
        str, typer.Option("--metrics-address", help="Address the metrics server binds.")
    ] = "127.0.0.1",
    textfile_dir: Annotated[
        Path | None,
        typer.Option(
            "--textfile-dir",
            help="Write aardcheck.prom here after each check (node_exporter textfile collector).",
        ),
    ] = None,
    debounce: Annotated[
        float,
        typer.Option("--debounce", min=0.05, max=60, help="Quiet SECONDS after events."),
    ] = 0.5,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0,
            max=60,
            help="Report a change once it still holds SECONDS later (0: at once).",
        ),
    ] = 1.0,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Do not ask aardvark-dns from inside networks.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every check on stderr.")
    ] = False,
    run_dir: RunDirOpt = None,
    url: UrlOpt = None,
) -> None:
    """Watch aardvark-dns files and podman events; report findings as they appear and
    resolve (text on stderr, or JSON lines on stdout), optionally prune them.

    Runs until SIGTERM or SIGINT (exit 0). Under systemd it sends READY=1 and WATCHDOG=1.
    """
    from aardcheck.runner.options import CheckOptions
    from aardcheck.watch.lifecycle import run_watch
    from aardcheck.watch.options import WatchOptions

    if metrics_port is not None and textfile_dir is not None:
        raise fail("--metrics-port and --textfile-dir are alternatives", ExitCode.USAGE)
    if textfile_dir is not None and not textfile_dir.is_dir():
        raise fail(f"--textfile-dir {textfile_dir}: no such directory", ExitCode.USAGE)
    options = WatchOptions(
        check=CheckOptions(
            networks=frozenset(network or ()), probe=not no_probe, run_dir=run_dir, url=url
        ),
        fix=fix,
        interval=interval,
        debounce=debounce,
        max_delay=max(5.0, debounce * 4),
        settle=settle,
        json_output=output is OutputFormat.json,
        verbose=verbose,
        metrics_address=metrics_address,
        metrics_port=metrics_port,
        textfile_dir=textfile_dir,
    )
    raise SystemExit(guarded(lambda: run_watch(options)))
