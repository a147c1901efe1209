"""``aardcheck compose ARGS``: whether podman-compose may run, decided before it does.

``up`` and ``run`` create networks: a failed pre-flight blocks them (``--force`` runs
anyway). ``start`` and ``restart`` only get the pre-flight's report. Every other
subcommand passes straight through. The command itself (finding podman-compose,
printing, ``execvp``) is ``cli.run.compose``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from aardcheck.compose.preflight import PreflightOptions, run_preflight
from aardcheck.compose.preflight_report import render_text
from aardcheck.compose.project import ComposeInvocation, resolve_project
from aardcheck.errors import AardcheckError, ExitCode

#: podman-compose subcommands that create networks (``up`` and ``run``): blocked when
#: the pre-flight fails. ``start`` and ``restart`` only get the pre-flight's warnings.
BLOCKING_COMMANDS = frozenset({"up", "run"})
PREFLIGHT_COMMANDS = BLOCKING_COMMANDS | {"start", "restart"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to say on stderr before podman-compose runs, and whether it may run."""

    #: One warning line (the pre-flight itself failed, and nothing is blocked).
    warning: str = ""
    #: The pre-flight's text report, when it found something or repaired.
    report: str = ""
    #: Set: podman-compose must not run; this is the error, ``exit_code`` the exit.
    refusal: str = ""
    exit_code: ExitCode = ExitCode.CLEAN


def preflight_verdict(
    invocation: ComposeInvocation, argv: Sequence[str], *, force: bool, fix: bool
) -> Verdict:
    """Run the pre-flight that ``invocation``'s subcommand asks for, and decide.

    ``argv`` is podman-compose's command line as given: the report's repair hint
    repeats it with ``--fix``.
    """
    if invocation.command not in PREFLIGHT_COMMANDS:
        return Verdict()
    blocking = invocation.command in BLOCKING_COMMANDS
    try:
        project = resolve_project(invocation.args, os.environ, os.getcwd())
        result = run_preflight(project, PreflightOptions(fix=fix))
    except AardcheckError as err:
        if blocking and not force:
            return Verdict(
                refusal=f"pre-flight failed: {err} (--force runs anyway)", exit_code=err.exit_code
            )
        return Verdict(warning=f"aardcheck: warning: pre-flight failed: {err}")
    report = ""
    if not result.safe or result.repair is not None:
        report = render_text(result, shlex.join(["aardcheck", "compose", "--fix", *argv]))
    if not result.safe and blocking and not force:
        return Verdict(
            report=report,
            refusal=f"refusing `podman-compose {invocation.command}` for project "
            f"{project.name}: the pre-flight failed (--fix repairs, --force skips)",
            exit_code=result.exit_code,
        )
    return Verdict(report=report)
