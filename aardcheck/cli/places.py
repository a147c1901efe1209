"""Commands for the places aardcheck runs: before ``podman-compose up`` (``preflight``,
``compose``), from cron or a timer (``clean``), and under systemd (``systemd install``).

Thin: options, one call into the library, output routing, exit code. Registered on
the main app at the end of ``aardcheck.cli.app``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aardcheck.cli import run
from aardcheck.cli.common import OutputFormat, StrategyChoice, guarded
from aardcheck.cli.options import (
    FormatOpt,
    NetworkOpt,
    NoWatcherOpt,
    RunDirOpt,
    StrategyOpt,
    TextfileDirOpt,
    UrlOpt,
)
from aardcheck.errors import ExitCode

#: ``aardcheck compose``: every argument after aardcheck's own options goes to
#: podman-compose untouched.
COMPOSE_CONTEXT: dict[str, Any] = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
}


FileOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--file", "-f", help="Compose file (repeatable), as for podman-compose. Default: "
        "COMPOSE_FILE, else compose.yaml, docker-compose.yml, ... in this directory.",
    ),
]  # fmt: skip
ProjectOpt = Annotated[
    str | None,
    typer.Option("--project-name", "-p", help="Project name, as for podman-compose."),
]
EnvFileOpt = Annotated[
    str, typer.Option("--env-file", help="Environment file, as for podman-compose.")
]
ProfileOpt = Annotated[
    list[str] | None, typer.Option("--profile", help="Enable a compose profile (repeatable).")
]


def preflight(
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = ".env",
    profile: ProfileOpt = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair first (prune), then check again.")
    ] = False,
    strategy: StrategyOpt = StrategyChoice.prune,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also ask aardvark-dns from inside the networks.")
    ] = False,
    output: FormatOpt = OutputFormat.text,
    run_dir: RunDirOpt = None,
    url: UrlOpt = None,
    no_watcher: NoWatcherOpt = False,
) -> None:
    """Is `podman-compose up` safe for this project? Exit 0 only when it is.

    Names the project's networks exactly as podman-compose 1.x does and looks for
    leftover aardvark files of those names, stale lines in networks `up` reuses,
    subnets a new network would share with a leftover file or collide on, and missing
    external networks.
    """
    run.preflight(
        file=file,
        project_name=project_name,
        env_file=env_file,
        profile=profile,
        fix=fix,
        strategy=strategy,
        probe=probe,
        output=output,
        run_dir=run_dir,
        url=url,
        no_watcher=no_watcher,
    )


def compose(
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PODMAN_COMPOSE_ARGS",
            help="podman-compose's own arguments, passed on unchanged ('--' before an "
            "argument that aardcheck would take, e.g. -- --help).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Run `up`/`run` even when the pre-flight fails."),
    ] = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Let the pre-flight repair first (prune).")
    ] = False,
    podman_compose: Annotated[
        str | None,
        typer.Option("--podman-compose", help="podman-compose to run. Default: from PATH."),
    ] = None,
) -> None:
    """Pre-flight, then `podman-compose ARGS...` with the same arguments and environment.

    aardcheck's own options come first: `aardcheck compose [--force] [--fix] -f
    compose.yaml up -d`. `up` and `run` are refused (exit 1) when the pre-flight finds
    the project unsafe, unless --force. podman-compose replaces this process (no shell),
    so its exit code, output and signals are its own.
    """
    run.compose(args=args, force=force, fix=fix, podman_compose=podman_compose)


def clean(
    network: NetworkOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be removed; change nothing.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=0,
            max=3600,
            help="Seconds to wait for another clean to finish before giving up with exit code 5.",
        ),
    ] = 10.0,
    lock_file: Annotated[
        Path | None,
        typer.Option(
            "--lock-file",
            help="Default: /run/aardcheck/clean.lock (root), "
            "$XDG_RUNTIME_DIR/aardcheck/clean.lock (users).",
        ),
    ] = None,
    run_dir: RunDirOpt = None,
    url: UrlOpt = None,
    textfile_dir: TextfileDirOpt = None,
    no_watcher: NoWatcherOpt = False,
) -> None:
    """Prune what is unambiguously dead; silent when there was nothing to do (for cron).

    Removes lines of containers that no longer exist and whose address is silent,
    duplicate lines of containers that do not run, and files of deleted networks -
    nothing else. Exit 0 done or nothing to do, 3 podman unavailable, 4 a change failed,
    5 another clean held the lock. --textfile-dir also writes what is left (findings,
    without DNS probes) and the repairs for node_exporter.
    """
    run.clean(
        network=network,
        dry_run=dry_run,
        wait=wait,
        lock_file=lock_file,
        run_dir=run_dir,
        url=url,
        textfile_dir=textfile_dir,
        no_watcher=no_watcher,
    )


systemd_app = typer.Typer(
    name="systemd", help="Install aardcheck's systemd units.", no_args_is_help=True
)


@systemd_app.command("install")
def systemd_install(
    user: Annotated[
        bool | None,
        typer.Option(
            "--user/--system",
            help="User units (rootless podman) or system units (rootful). "
            "Default: --system for root, --user otherwise.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show where each file would go; write nothing.")
    ] = False,
    prefix: Annotated[
        Path | None,
        typer.Option("--prefix", help="Install below this directory (for packaging, tests)."),
    ] = None,
    aardcheck: Annotated[
        str | None, typer.Option("--aardcheck", help="aardcheck for ExecStart. Default: found.")
    ] = None,
    podman_compose: Annotated[
        str | None,
        typer.Option("--podman-compose", help="podman-compose for the drop-in. Default: found."),
    ] = None,
) -> None:
    """Copy the unit files where systemd reads them; print the systemctl commands."""
    from aardcheck.install.systemd import apply_install, plan_install, render

    as_user = os.geteuid() != 0 if user is None else user
    plan = guarded(
        lambda: plan_install(
            user=as_user, prefix=prefix, aardcheck=aardcheck, podman_compose=podman_compose
        )
    )
    if not dry_run:
        guarded(lambda: apply_install(plan))
    sys.stdout.write(render(plan, dry_run=dry_run))
    raise SystemExit(int(ExitCode.CLEAN))
