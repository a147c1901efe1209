"""Commands for the places aardcheck runs: before ``podman-compose up`` (``preflight``,
``compose``), from cron or a timer (``clean``), and under systemd (``systemd install``).

Thin: options, one call into the library, output routing, exit code. Registered on
the main app at the end of ``aardcheck.cli``.
"""

from __future__ import annotations

import enum
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aardcheck.cli_common import (
    FormatOpt,
    NetworkOpt,
    NoWatcherOpt,
    OutputFormat,
    RunDirOpt,
    UrlOpt,
    fail,
    guarded,
)
from aardcheck.cli_textfile import TextfileDirOpt, textfile_run
from aardcheck.errors import AardcheckError, ExitCode

#: podman-compose subcommands that create networks (``up`` and ``run``): blocked when
#: the pre-flight fails. ``start`` and ``restart`` only get the pre-flight's warnings.
BLOCKING_COMMANDS = frozenset({"up", "run"})
PREFLIGHT_COMMANDS = BLOCKING_COMMANDS | {"start", "restart"}
#: ``aardcheck compose``: every argument after aardcheck's own options goes to
#: podman-compose untouched.
COMPOSE_CONTEXT: dict[str, Any] = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "allow_interspersed_args": False,
}


class StrategyChoice(enum.StrEnum):
    prune = "prune"
    recreate = "recreate"


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
StrategyOpt = Annotated[
    StrategyChoice,
    typer.Option(
        "--strategy",
        help="With --fix: prune stale lines and leftover files; recreate also re-creates "
        "project networks whose file cannot be trusted.",
    ),
]


def _repair_command(
    files: list[str], project: str | None, env_file: str, profiles: list[str]
) -> str:
    argv = ["aardcheck", "preflight"]
    argv += [a for f in files for a in ("-f", f)]
    argv += ["-p", project] if project else []
    argv += ["--env-file", env_file] if env_file != ".env" else []
    argv += [a for p in profiles for a in ("--profile", p)]
    return shlex.join([*argv, "--fix"])


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
    from aardcheck.compose import ComposeArgs, resolve_project
    from aardcheck.preflight import PreflightOptions, run_preflight
    from aardcheck.preflight_report import render_json, render_text
    from aardcheck.repair.plan import Strategy
    from aardcheck.runner import CheckOptions

    args = ComposeArgs(tuple(file or ()), project_name, env_file, tuple(profile or ()))
    options = PreflightOptions(
        check=CheckOptions(probe=probe, run_dir=run_dir, url=url),
        fix=fix,
        strategy=Strategy(strategy.value),
    )
    project = guarded(lambda: resolve_project(args, os.environ, os.getcwd()))
    result = guarded(lambda: run_preflight(project, options))
    hint = _repair_command(list(file or ()), project_name, env_file, list(profile or ()))
    render = render_json if output is OutputFormat.json else render_text
    sys.stdout.write(render(result, hint))
    raise typer.Exit(int(result.exit_code))


def _podman_compose(explicit: str | None) -> str:
    import shutil

    if explicit:
        return explicit
    found = shutil.which("podman-compose")
    sibling = Path(sys.executable).parent / "podman-compose"
    if found is None and os.access(sibling, os.X_OK):
        found = str(sibling)
    if found is None:
        raise fail(
            "podman-compose is not installed (no podman-compose on PATH)", ExitCode.ENVIRONMENT
        )
    return found


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
    from aardcheck.compose import parse_compose_argv, resolve_project
    from aardcheck.preflight import PreflightOptions, run_preflight
    from aardcheck.preflight_report import render_text

    argv = list(args or ())
    program = _podman_compose(podman_compose)
    invocation = guarded(lambda: parse_compose_argv(argv))
    if invocation.command in PREFLIGHT_COMMANDS:
        blocking = invocation.command in BLOCKING_COMMANDS
        try:
            project = resolve_project(invocation.args, os.environ, os.getcwd())
            result = run_preflight(project, PreflightOptions(fix=fix))
        except AardcheckError as err:
            if blocking and not force:
                raise fail(
                    f"pre-flight failed: {err} (--force runs anyway)", err.exit_code
                ) from None
            typer.echo(f"aardcheck: warning: pre-flight failed: {err}", err=True)
        else:
            fix_hint = shlex.join(["aardcheck", "compose", "--fix", *argv])
            if not result.safe or result.repair is not None:
                typer.echo(render_text(result, fix_hint), err=True, nl=False)
            if not result.safe and blocking and not force:
                raise fail(
                    f"refusing `podman-compose {invocation.command}` for project "
                    f"{project.name}: the pre-flight failed (--fix repairs, --force skips)",
                    result.exit_code,
                )
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(program, [program, *argv])
    except OSError as err:
        raise fail(f"cannot run {program}: {err.strerror}", ExitCode.ENVIRONMENT) from None


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
    from aardcheck.clean import default_lock_path, exclusive, run_clean
    from aardcheck.report.fix_report import change_line, describe
    from aardcheck.runner import CheckOptions

    options = CheckOptions(networks=frozenset(network or ()), probe=False, run_dir=run_dir, url=url)

    def once() -> Any:
        with exclusive(lock_file or default_lock_path(), wait):
            return run_clean(options, dry_run=dry_run, recheck=textfile_dir is not None)

    with textfile_run(textfile_dir, "clean") as run:
        result = guarded(once)
        run.succeeded(result.findings, changes=result.changes)
    if result.dry_run:
        for action in result.plan.actions:
            typer.echo(f"aardcheck clean: would {describe(action)}")
    elif result.worth_reporting:
        for change in result.changes:
            typer.echo(f"aardcheck clean: {change_line(change)}")
    raise typer.Exit(int(result.exit_code))


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
    from aardcheck.systemd_install import apply_install, plan_install, render

    as_user = os.geteuid() != 0 if user is None else user
    plan = guarded(
        lambda: plan_install(
            user=as_user, prefix=prefix, aardcheck=aardcheck, podman_compose=podman_compose
        )
    )
    if not dry_run:
        guarded(lambda: apply_install(plan))
    sys.stdout.write(render(plan, dry_run=dry_run))
    raise typer.Exit(int(ExitCode.CLEAN))
