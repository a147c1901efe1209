"""What ``check``, ``preflight`` and ``clean`` would print, computed from the watcher's state.

The request's argv is parsed by the very click commands the CLI runs, and the answer is
built by the same pure functions (``analyse``, ``select``, the clean plan) and renderers
a cold run uses, on the watcher's snapshot narrowed to what the command asked for. Every
case the watcher cannot answer exactly as a cold run would is declined with a reason,
and the command computes cold: another store, options the watcher did not use (probe
settings, ``--aardvark-version``), networks outside its ``--network``, anything with a
side effect (``--fix``, a clean that would prune, ``--textfile-dir``), unknown networks
and parse errors (the cold run prints the error).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from aardcheck.checks.analysis import analyse
from aardcheck.errors import AardcheckError, ExitCode
from aardcheck.findings import CheckContext, CheckResult
from aardcheck.models import AardvarkVersion, AddressLiveness, Liveness
from aardcheck.runner.options import CheckOptions
from aardcheck.watch.answer import UNSEEN, AnswerServer, AnswerState, View
from aardcheck.watch.options import WatchOptions

#: exit code, stdout, stderr
Reply = tuple[int, str, str]

#: the ARP/NDP wait of a cold check (``aardcheck check``, ``clean``, ``preflight``)
COLD_LIVENESS_WAIT = CheckOptions().liveness_timeout


class Declined(Exception):
    """The watcher cannot answer exactly as a cold run would; the reason says why."""


def silent_unconfirmed(
    liveness: Iterable[AddressLiveness], waited: Mapping[str, float]
) -> frozenset[str]:
    """Networks with an address found silent by a wait shorter than a cold check's."""
    return frozenset(
        a.network
        for a in liveness
        if a.liveness is Liveness.SILENT
        and waited.get(a.network, float("inf")) < COLD_LIVENESS_WAIT
    )


def _only(items: tuple[Any, ...], networks: frozenset[str]) -> tuple[Any, ...]:
    return tuple(i for i in items if i.network in networks)


def served_result(
    view: View, networks: frozenset[str], *, probe: bool, started: float
) -> CheckResult:
    """The check a cold run with these networks (empty: all) and probe setting makes.

    The watcher waits less for ARP/NDP replies than a cold check (detection latency), so
    an address it found silent might have answered a cold check: until its follow-up
    check has waited as long as a cold one (``Watcher``: "confirm silent addresses"),
    such a state is declined and the command computes cold.
    """
    snap = view.snapshot
    if networks:
        snap = replace(
            snap,
            selected=networks,
            liveness=_only(snap.liveness, networks),
            probes=_only(snap.probes, networks),
            probe_skipped=_only(snap.probe_skipped, networks),
        )
    if unconfirmed := silent_unconfirmed(snap.liveness, view.liveness_wait):
        raise Declined(
            f"an address of network {sorted(unconfirmed)[0]} was found silent within a "
            f"shorter ARP/NDP wait than a cold check's {COLD_LIVENESS_WAIT:g} s"
        )
    if not probe:
        snap = replace(snap, probes=(), probe_skipped=(), probed=False)
    # it asked podman nothing: the watcher's cumulative count would mislead
    snap = replace(snap, podman=replace(snap.podman, api_requests=0))
    return CheckResult(snap, analyse(snap), view.context, time.monotonic() - started)


class Answers:
    """The handler the answer server calls, one request at a time."""

    def __init__(
        self, state: AnswerState, options: WatchOptions, wake: Callable[[], None] | None = None
    ) -> None:
        self.state = state
        self.options = options
        #: asks the watcher for a full check: podman did something it was not told of
        #: (an exec, a health check), and until it looks again every command computes cold
        self.wake = wake

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        try:
            name, params = self._parse(request.get("argv"))
            self._same_store(params, request.get("env"), request.get("cwd"))
            run = {"check": self._check, "clean": self._clean, "preflight": self._preflight}
            exit_code, out, err = run[name](params, request, started)
        except Declined as why:
            return {"declined": str(why)}
        except Exception as exc:  # never the watcher's problem: the command computes cold
            return {"declined": f"{type(exc).__name__}: {exc}"}
        return {"exit": int(exit_code), "stdout": out, "stderr": err}

    # ------------------------------------------------------------------ parsing

    def _parse(self, argv: object) -> tuple[str, dict[str, Any]]:
        """The command's options, read by the cold path's own typer-free parser: argv it
        leaves to typer (help, usage errors, unusual forms) is computed cold, where typer
        prints what it has to say."""
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise Declined("no argv")
        from aardcheck.cli.fast import COMMANDS, parse

        if argv[0] not in ("check", "clean", "preflight"):
            raise Declined(f"not a command the watcher answers: {argv[0]}")
        params = parse(COMMANDS[argv[0]], argv[1:])
        if params is None:
            raise Declined("arguments the cold path's typer parses")
        return argv[0], params

    def _same_store(self, params: dict[str, Any], env: object, cwd: object) -> None:
        mine = self.options.check
        theirs = env if isinstance(env, dict) else {}
        if theirs.get("CONTAINER_HOST") != os.environ.get("CONTAINER_HOST"):
            raise Declined("another CONTAINER_HOST")
        if (params.get("url") or None) != mine.url:
            raise Declined("another --url")
        if _run_dir(params.get("run_dir"), cwd) != _run_dir(mine.run_dir, None):
            raise Declined("another --run-dir")
        if params.get("textfile_dir"):
            raise Declined("--textfile-dir writes files")

    def _view(self, networks: frozenset[str] | None, *, podman_only: bool = False) -> View:
        """``podman_only``: what podman lists and the files hold, not any network's checks."""
        selected = self.options.check.networks
        if selected and not podman_only and not (networks and networks <= selected):
            raise Declined("networks outside the watcher's --network")
        view = self.state.view(networks)
        if isinstance(view, str):
            if view.startswith(UNSEEN) and self.wake is not None:
                self.wake()
            raise Declined(view)
        if view.context.network_backend == "cni":
            # its checks are dnsname's (aardcheck.runner.cni_check), not this module's analyse()
            raise Declined("podman uses the CNI backend: a cold check answers")
        from aardcheck.sources.aardvark_files import unreadable_directory

        if unreadable_directory(view.snapshot.directory):
            raise Declined("the aardvark directory was unreadable")
        return view

    def _probe_settings(self, probe: bool, count: int, timeout: float) -> None:
        mine = self.options.check
        if probe and not (
            mine.probe and (count, timeout) == (mine.probe_count, mine.probe_timeout)
        ):
            raise Declined("probe settings the watcher does not use")

    def _mark(self, rendered: str, view: View) -> str:
        doc = json.loads(rendered)
        doc["served_by"] = {"watcher_pid": os.getpid(), "state_age_s": round(view.age_s, 3)}
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"

    def _note(self, view: View) -> str:
        pid, age = os.getpid(), view.age_s
        return f"aardcheck: answered by the watcher (pid {pid}), state {age:.1f} s old\n"

    # ------------------------------------------------------------------ commands

    def _check(
        self, p: dict[str, Any], _req: dict[str, Any], started: float
    ) -> tuple[int, str, str]:
        probe = not p["no_probe"]
        self._probe_settings(probe, p["probe_count"], p["probe_timeout"])
        networks = frozenset(p.get("network") or ())
        view = self._view(networks or None)
        if p.get("aardvark_version"):
            try:
                wanted = AardvarkVersion.parse(p["aardvark_version"])
            except ValueError:
                raise Declined("bad --aardvark-version") from None
            if wanted != view.snapshot.aardvark_version:
                raise Declined("another --aardvark-version")
        snap = view.snapshot
        known = {f.network for f in snap.directory.files} | {n.name for n in snap.podman.networks}
        if networks - known:
            raise Declined("unknown networks")
        result = served_result(view, networks, probe=probe, started=started)
        code = ExitCode.FINDINGS if result.findings else ExitCode.CLEAN
        if str(p["output"]) in ("json", "OutputFormat.json"):
            from aardcheck.report import json_report

            return code, self._mark(json_report.render(result, int(code)), view), ""
        from aardcheck.report import text_report

        return code, text_report.render(result, int(code)), self._note(view)

    def _clean(
        self, p: dict[str, Any], _req: dict[str, Any], started: float
    ) -> tuple[int, str, str]:
        from aardcheck.repair.plan import build_plan
        from aardcheck.report.fix_report import describe
        from aardcheck.runner.clean import unambiguous

        asked = frozenset(p.get("network") or ())
        view = self._view(asked or None)
        snap = view.snapshot
        known = {f.network for f in snap.directory.files} | {n.name for n in snap.podman.networks}
        if asked and not asked & known:
            return ExitCode.CLEAN, "", ""  # what a cold clean does: nothing to look at
        result = served_result(view, asked & known, probe=False, started=started)
        plan = unambiguous(build_plan(result.snapshot, result.findings))
        if plan.empty:
            return ExitCode.CLEAN, "", ""
        if not p["dry_run"]:
            raise Declined("there is something to prune: the command does it itself")
        lines = "".join(f"aardcheck clean: would {describe(a)}\n" for a in plan.actions)
        return ExitCode.CLEAN, lines, ""

    def _preflight(self, p: dict[str, Any], req: dict[str, Any], started: float) -> Reply:
        from aardcheck.compose.preflight import (
            NON_BLOCKING,
            PreflightResult,
            host_route_subnets,
            select,
        )
        from aardcheck.compose.preflight_report import render_json, render_text, repair_command
        from aardcheck.compose.project import ComposeArgs, resolve_project

        if p["fix"]:
            raise Declined("--fix repairs")
        self._probe_settings(bool(p["probe"]), 3, 1.0)
        files, project_name = list(p.get("file") or ()), p.get("project_name")
        env_file, profiles = str(p["env_file"]), list(p.get("profile") or ())
        args = ComposeArgs(tuple(files), project_name, env_file, tuple(profiles))
        env, cwd = req.get("env"), req.get("cwd")
        if not isinstance(env, dict) or not isinstance(cwd, str):
            raise Declined("no environment or working directory")
        try:
            project = resolve_project(args, env, cwd)
        except AardcheckError as err:
            raise Declined(f"project: {err}") from None
        view = self._view(frozenset(), podman_only=True)
        snap, ctx = view.snapshot, view.context
        routes = host_route_subnets() if ctx.scope == "rootful" else []
        selection = select(project, snap.podman, snap.directory, routes)
        # every project network, checked or not: a file appearing for one changes its plan
        view = self._view(selection.check | {st.network.name for st in selection.statuses})
        checked = None
        if selection.check:
            checked = served_result(view, selection.check, probe=bool(p["probe"]), started=started)
        findings = checked.findings if checked is not None else ()
        context = CheckContext(ctx.run_dir, ctx.scope, ctx.podman_version, ctx.api_url)
        result = PreflightResult(
            project=project,
            statuses=selection.statuses,
            findings=tuple(f for f in findings if f.kind not in NON_BLOCKING),
            notes=tuple(f for f in findings if f.kind in NON_BLOCKING),
            hazards=selection.hazards,
            context=checked.context if checked is not None else context,
        )
        hint = repair_command(files, project_name, env_file, profiles)
        if str(p["output"]) in ("json", "OutputFormat.json"):
            return result.exit_code, self._mark(render_json(result, hint), view), ""
        return result.exit_code, render_text(result, hint), self._note(view)


def _run_dir(value: object, cwd: object) -> Path | None:
    """The directory a ``--run-dir`` names; a relative one is the asker's, not ours."""
    if value in (None, ""):
        return None
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        if not isinstance(cwd, str):
            raise Declined("a relative --run-dir without the asker's working directory")
        path = Path(cwd) / path
    return (path.parent if path.name == "aardvark-dns" else path).resolve()


def start_answering(
    state: AnswerState,
    options: WatchOptions,
    log: Callable[[str], None],
    wake: Callable[[], None] | None = None,
) -> AnswerServer | None:
    """Serve ``state`` on the answer socket; None (logged) when it cannot."""
    server = AnswerServer(Answers(state, options, wake))
    try:
        log(server.start())
    except OSError as err:
        log(f"not answering commands on {server.path}: {err.strerror or err}")
        return None
    return server
