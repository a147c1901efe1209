"""The bodies of the commands on the cold path: ``check``, ``lint``, ``preflight``,
``compose`` and ``clean``. Each takes its parsed options, makes one call into the
library, writes its output and raises SystemExit with the documented code.

No typer here: the typer commands (``aardcheck.cli.app``, ``aardcheck.cli.places``) and the
typer-free front (``aardcheck.cli.fast``) call the same bodies, so a command does the same
thing whichever front parsed its argv.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from aardcheck.cli.common import OutputFormat, StrategyChoice, fail, guarded, parse_version, say
from aardcheck.cli.textfile import textfile_run
from aardcheck.errors import ExitCode


def check(
    *,
    network: list[str] | None,
    output: OutputFormat,
    no_probe: bool,
    probe_count: int,
    probe_timeout: float,
    run_dir: Path | None,
    url: str | None,
    aardvark_version: str | None,
    textfile_dir: Path | None,
    no_watcher: bool,  # the watcher was asked (or not) before any front ran
) -> NoReturn:
    from aardcheck.models import AardvarkVersion
    from aardcheck.runner.check import run_check
    from aardcheck.runner.options import CheckOptions

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
    with textfile_run(textfile_dir, "check") as run:
        result = guarded(lambda: run_check(options))
        from aardcheck.sources.aardvark_files import unreadable_directory

        if why := unreadable_directory(result.snapshot.directory):
            raise fail(f"nothing checked: {why}", ExitCode.ENVIRONMENT)
        run.succeeded(result.findings, result.snapshot.probes)
    code = ExitCode.FINDINGS if result.findings else ExitCode.CLEAN
    if output is OutputFormat.json:
        from aardcheck.report import json_report

        sys.stdout.write(json_report.render(result, int(code)))
    else:
        from aardcheck.report import text_report

        sys.stdout.write(text_report.render(result, int(code)))
    raise SystemExit(int(code))


def lint(
    *, paths: list[Path] | None, aardvark_version: str | None, output: OutputFormat
) -> NoReturn:
    from aardcheck.models import AardvarkVersion
    from aardcheck.report.lint_report import render_json, render_text
    from aardcheck.runner.lint import lint_paths

    version = parse_version(aardvark_version)
    results = guarded(
        lambda: lint_paths(
            list(paths or ()), version if isinstance(version, AardvarkVersion) else None
        )
    )
    bad = any(not r.ok for r in results)
    sys.stdout.write(render_json(results) if output is OutputFormat.json else render_text(results))
    raise SystemExit(int(ExitCode.FINDINGS if bad else ExitCode.CLEAN))


def preflight(
    *,
    file: list[str] | None,
    project_name: str | None,
    env_file: str,
    profile: list[str] | None,
    fix: bool,
    strategy: StrategyChoice,
    probe: bool,
    output: OutputFormat,
    run_dir: Path | None,
    url: str | None,
    no_watcher: bool,  # the watcher was asked (or not) before any front ran
) -> NoReturn:
    from aardcheck.compose.preflight import PreflightOptions, run_preflight
    from aardcheck.compose.preflight_report import render_json, render_text, repair_command
    from aardcheck.compose.project import ComposeArgs, resolve_project
    from aardcheck.repair.plan import Strategy
    from aardcheck.runner.options import CheckOptions

    args = ComposeArgs(tuple(file or ()), project_name, env_file, tuple(profile or ()))
    options = PreflightOptions(
        check=CheckOptions(probe=probe, run_dir=run_dir, url=url),
        fix=fix,
        strategy=Strategy(strategy.value),
    )
    project = guarded(lambda: resolve_project(args, os.environ, os.getcwd()))
    result = guarded(lambda: run_preflight(project, options))
    hint = repair_command(list(file or ()), project_name, env_file, list(profile or ()))
    render = render_json if output is OutputFormat.json else render_text
    sys.stdout.write(render(result, hint))
    raise SystemExit(int(result.exit_code))


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
    *, args: list[str] | None, force: bool, fix: bool, podman_compose: str | None
) -> NoReturn:
    from aardcheck.compose.project import parse_compose_argv
    from aardcheck.compose.wrapper import preflight_verdict

    argv = list(args or ())
    program = _podman_compose(podman_compose)
    invocation = guarded(lambda: parse_compose_argv(argv))
    verdict = preflight_verdict(invocation, argv, force=force, fix=fix)
    if verdict.warning:
        say(verdict.warning, err=True)
    if verdict.report:
        say(verdict.report, err=True, end="")
    if verdict.refusal:
        raise fail(verdict.refusal, verdict.exit_code)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(program, [program, *argv])
    except OSError as err:
        raise fail(f"cannot run {program}: {err.strerror}", ExitCode.ENVIRONMENT) from None


def clean(
    *,
    network: list[str] | None,
    dry_run: bool,
    wait: float,
    lock_file: Path | None,
    run_dir: Path | None,
    url: str | None,
    textfile_dir: Path | None,
    no_watcher: bool,  # the watcher was asked (or not) before any front ran
) -> NoReturn:
    from aardcheck.report.fix_report import change_line, describe
    from aardcheck.runner.clean import default_lock_path, exclusive, run_clean
    from aardcheck.runner.options import CheckOptions

    options = CheckOptions(networks=frozenset(network or ()), probe=False, run_dir=run_dir, url=url)

    def once() -> Any:
        with exclusive(lock_file or default_lock_path(), wait):
            return run_clean(options, dry_run=dry_run, recheck=textfile_dir is not None)

    with textfile_run(textfile_dir, "clean") as run:
        result = guarded(once)
        run.succeeded(result.findings, changes=result.changes)
    if result.dry_run:
        for action in result.plan.actions:
            say(f"aardcheck clean: would {describe(action)}")
    elif result.worth_reporting:
        for change in result.changes:
            say(f"aardcheck clean: {change_line(change)}")
    raise SystemExit(int(result.exit_code))
