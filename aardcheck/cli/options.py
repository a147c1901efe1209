"""The typer options several commands share, and how help is rendered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from aardcheck.cli.common import OutputFormat, StrategyChoice
from aardcheck.cli.top_help import rich_help_wanted

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
TextfileDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--textfile-dir",
        help="Also write aardcheck-COMMAND.prom here (node_exporter textfile collector), "
        "even when the run fails.",
    ),
]
StrategyOpt = Annotated[
    StrategyChoice,
    typer.Option(
        "--strategy",
        help="With --fix: prune stale lines and leftover files; recreate also re-creates "
        "project networks whose file cannot be trusted.",
    ),
]


def help_markup() -> Literal["rich"] | None:
    """How typer renders help and usage errors: click's plain text, unless a person at a
    terminal asks for rich's panels and colours with ``TYPER_USE_RICH=1``.

    Rendering with rich imports rich.markdown, markdown-it and pygments: 105-145 ms of a
    ~230 ms ``--help`` (docs/benchmarks.md), more than the whole help is allowed to cost.
    """
    return "rich" if rich_help_wanted() else None
