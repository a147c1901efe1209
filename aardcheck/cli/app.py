"""The typer app: options, output routing, error -> exit code. No logic of its own.

Heavy libraries (podman, dnspython, watchdog) are imported inside the commands that need
them, so ``--help`` and ``lint`` start fast.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Annotated

import typer

from aardcheck.cli import run
from aardcheck.cli.common import OutputFormat, StrategyChoice, fail, guarded, say
from aardcheck.cli.options import (
    AardvarkVersionOpt,
    FormatOpt,
    NetworkOpt,
    NoWatcherOpt,
    RunDirOpt,
    TextfileDirOpt,
    UrlOpt,
    help_markup,
)
from aardcheck.errors import ExitCode

app = typer.Typer(
    name="aardcheck",
    help="Find and repair stale, duplicate and dead aardvark-dns mappings on podman hosts.\n\n"
    "Exit codes: 0 clean, 1 findings, 2 usage error, 3 environment error (podman or a "
    "directory unavailable), 4 repair started but not completed, 5 another aardcheck "
    "holds the lock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=help_markup(),
)


def _print_version(value: bool) -> None:
    if value:
        from aardcheck import __version__

        typer.echo(f"aardcheck {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Find and repair stale, duplicate and dead aardvark-dns mappings on podman hosts."""


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
    textfile_dir: TextfileDirOpt = None,
    no_watcher: NoWatcherOpt = False,
) -> None:
    """Cross-check every aardvark-dns line against podman and the resolver's answers."""
    run.check(
        network=network,
        output=output,
        no_probe=no_probe,
        probe_count=probe_count,
        probe_timeout=probe_timeout,
        run_dir=run_dir,
        url=url,
        aardvark_version=aardvark_version,
        textfile_dir=textfile_dir,
        no_watcher=no_watcher,
    )


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
    run.lint(paths=paths, aardvark_version=aardvark_version, output=output)


def _hint_pending_recreates() -> None:
    """An interrupted re-create leaves its network missing: say how to finish it first."""
    from aardcheck.repair import journal

    try:
        pending = journal.pending_journals(journal.state_dir())
    except (OSError, journal.JournalError):
        return
    for path in pending:
        network = path.name.removeprefix(journal.JOURNAL_PREFIX).removesuffix(
            journal.JOURNAL_SUFFIX
        )
        say(
            f"aardcheck: note: the re-create of network {network} was interrupted; "
            "`aardcheck fix --resume` completes it",
            err=True,
        )


@app.command()
def fix(
    network: NetworkOpt = None,
    strategy: Annotated[
        StrategyChoice,
        typer.Option(
            "--strategy",
            help="prune: remove stale lines and orphan files under netavark's locks. "
            "recreate: also re-create the selected networks (or those whose file cannot be "
            "trusted) with every container, alias, address and MAC they had.",
        ),
    ] = StrategyChoice.prune,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    restart_consumers: Annotated[
        bool,
        typer.Option(
            "--restart-consumers",
            help="Also restart containers that may have cached a stale address (long TTL).",
        ),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Complete or roll back an interrupted re-create."),
    ] = False,
    output: FormatOpt = OutputFormat.text,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Do not ask aardvark-dns (before or after).")
    ] = False,
    run_dir: RunDirOpt = None,
    url: UrlOpt = None,
) -> None:
    """Repair stale mappings safely: plan, show, confirm, apply, verify."""
    from aardcheck.repair.plan import Strategy
    from aardcheck.report import fix_report
    from aardcheck.runner.fix import run_fix
    from aardcheck.runner.options import CheckOptions, FixOptions

    if resume:
        from aardcheck.repair.recreate import resume_interrupted

        code = guarded(lambda: resume_interrupted(url=url, output_json=output is OutputFormat.json))
        raise SystemExit(int(code))
    nets = frozenset(network or ())
    chosen = Strategy(strategy.value)
    options = FixOptions(
        check=CheckOptions(networks=nets, probe=not no_probe, run_dir=run_dir, url=url),
        strategy=chosen,
        recreate=nets if chosen is Strategy.RECREATE else frozenset(),
        restart_consumers=restart_consumers,
        dry_run=dry_run,
    )
    if not (yes or dry_run) and not sys.stdin.isatty():
        raise fail(
            "refusing to change anything without --yes (stdin is not a terminal); "
            "use --dry-run to see the plan",
            ExitCode.USAGE,
        )
    if run_dir is not None:  # an unreadable directory would make every line look missing
        from aardcheck.models import LATEST_AARDVARK
        from aardcheck.sources import discovery
        from aardcheck.sources.aardvark_files import read_dns_directory, unreadable_directory

        given = guarded(lambda: discovery.run_dir_override(run_dir))
        if why := unreadable_directory(read_dns_directory(given, LATEST_AARDVARK)):
            raise fail(f"nothing changed: {why}", ExitCode.ENVIRONMENT)

    def confirm(plan: object) -> bool:
        from aardcheck.repair.plan import RepairPlan

        assert isinstance(plan, RepairPlan)
        if yes:
            return True
        say(fix_report.plan_text(plan), err=True, end="")
        return typer.confirm("apply this plan?", default=False, err=True)

    recreate_hook = None
    if chosen is Strategy.RECREATE:
        from aardcheck.repair.recreate import recreate_network

        recreate_hook = recreate_network
    _hint_pending_recreates()
    result = guarded(lambda: run_fix(options, confirm, recreate_hook))
    from aardcheck.sources.aardvark_files import unreadable_directory

    if not result.applied and (why := unreadable_directory(result.before.snapshot.directory)):
        raise fail(f"nothing changed: {why}", ExitCode.ENVIRONMENT)
    for change in result.changes:
        say(f"aardcheck: {fix_report.change_line(change)}", err=True)
    render = fix_report.render_json if output is OutputFormat.json else fix_report.render_text
    sys.stdout.write(render(result, dry_run))
    raise SystemExit(int(result.exit_code))


from aardcheck.cli.watch import watch  # noqa: E402 (registered after the core commands)

app.command()(watch)

from aardcheck.cli.places import (  # noqa: E402 (registered after the core commands)
    COMPOSE_CONTEXT,
    clean,
    compose,
    preflight,
    systemd_app,
)

app.command()(preflight)
app.command(context_settings=COMPOSE_CONTEXT)(compose)
app.command()(clean)
app.add_typer(systemd_app, name="systemd")


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command being run, when argv names one.

    typer builds every registered command's click parameters on each start (type hints
    evaluated, defaults copied): ~30-40 ms for commands that are not run. Help, errors and
    behaviour of the command run are the same; anything else gets the whole app.
    """
    name = argv[1] if len(argv) > 1 else ""
    for info in app.registered_commands:
        callback_name = info.callback.__name__ if info.callback else ""
        if name and name == (info.name or callback_name.replace("_", "-")):
            slim = copy.copy(app)
            slim.registered_commands = [info]
            slim.registered_groups = []
            return slim
    return app


def main() -> None:
    _app_for(sys.argv)()
