"""Rendering a pre-flight result (text and JSON ``aardcheck.preflight/1``). Pure."""

from __future__ import annotations

import json
import shlex
from typing import Any

from aardcheck import __version__
from aardcheck.compose.preflight import Hazard, NetworkStatus, PreflightResult
from aardcheck.findings import Finding
from aardcheck.report.fix_report import change_line
from aardcheck.report.json_report import finding_dict
from aardcheck.report.visible import escape

SCHEMA = "aardcheck.preflight/1"

_PLAN_TEXT = {
    "create": "up creates it",
    "reuse": "exists; up reuses it",
    "external": "external, exists",
    "missing-external": "external, MISSING",
}


def _status_line(s: NetworkStatus) -> str:
    extra = []
    if s.leftover_file:
        extra.append(f"leftover aardvark file {s.leftover_file}")
    if s.likely_subnet:
        extra.append(f"likely subnet {s.likely_subnet}")
    tail = f" ({'; '.join(extra)})" if extra else ""
    services = ", ".join(s.network.services)
    return f"  {escape(s.network.name)}: {_PLAN_TEXT[s.plan]}{tail} [{escape(services)}]"


def _finding_lines(f: Finding) -> str:
    where = f" (line {f.line_no})" if f.line_no is not None else ""
    return (
        f"  {str(f.severity).upper():8} {f.kind} [{escape(f.network)}]{where}: "
        f"{escape(f.message)}\n           fix: {escape(f.fix)}"
    )


def _hazard_lines(h: Hazard) -> str:
    head = f"  {'ERROR':8} {h.kind} [{escape(h.network)}]: {escape(h.message)}"
    return f"{head}\n           fix: {escape(h.fix)}"


def render_text(result: PreflightResult, repair_command: str) -> str:
    """Human report; ``repair_command`` is the same pre-flight with ``--fix``."""
    p = result.project
    out = [
        f"aardcheck preflight: project {escape(p.name)} (from {p.name_source}), "
        f"{len(p.networks)} network(s); {result.context.scope} run dir {result.context.run_dir}"
    ]
    out.extend(_status_line(s) for s in result.statuses)
    if p.on_podman_network:
        out.append(f"  podman's own network 'podman': {escape(', '.join(p.on_podman_network))}")
    if result.repair is not None:
        out.append("repair:")
        out.extend(f"  {change_line(c)}" for c in result.repair.changes)
        if not result.repair.changes:
            out.append("  nothing could be repaired automatically")
    out.extend(_finding_lines(f) for f in result.findings)
    out.extend(_hazard_lines(h) for h in result.hazards)
    out.extend(_finding_lines(f) for f in result.notes)
    problems = len(result.findings) + len(result.hazards)
    if result.safe:
        out.append(f"safe: `podman-compose up` meets no stale DNS state for {escape(p.name)}")
    elif result.repair is None:
        out.append(
            f"NOT SAFE: {problems} problem(s) before `podman-compose up`. "
            f"Repair what can be repaired with: {repair_command}"
        )
    else:
        out.append(
            f"NOT SAFE: {problems} problem(s) remain after the repair; see the fix lines above"
        )
    return "\n".join(out) + "\n"


def _hazard_dict(h: Hazard) -> dict[str, Any]:
    return {"kind": h.kind, "network": h.network, "message": h.message, "fix": h.fix,
            "path": h.path}  # fmt: skip


def render_json(result: PreflightResult, repair_command: str) -> str:
    p = result.project
    doc = {
        "schema": SCHEMA,
        "tool": {"name": "aardcheck", "version": __version__},
        "project": {
            "name": p.name,
            "source": p.name_source,
            "directory": p.directory,
            "files": list(p.files),
            "on_podman_network": list(p.on_podman_network),
        },
        "networks": [
            {
                "key": s.network.key,
                "name": s.network.name,
                "plan": s.plan,
                "external": s.network.external,
                "services": list(s.network.services),
                "leftover_file": s.leftover_file,
                "likely_subnet": s.likely_subnet,
            }
            for s in result.statuses
        ],
        "safe": result.safe,
        "exit_code": int(result.exit_code),
        "findings": [finding_dict(f) for f in result.findings],
        "hazards": [_hazard_dict(h) for h in result.hazards],
        "notes": [finding_dict(f) for f in result.notes],
        "repair": None
        if result.repair is None
        else [
            {
                "action": c.action,
                "network": c.network,
                "target": c.target,
                "status": c.status,
                "detail": c.detail,
            }
            for c in result.repair.changes
        ],
        "repair_command": repair_command,
    }
    return json.dumps(doc, indent=2) + "\n"


def repair_command(
    files: list[str], project: str | None, env_file: str, profiles: list[str]
) -> str:
    """The ``aardcheck preflight ... --fix`` a failed pre-flight suggests."""
    argv = ["aardcheck", "preflight"]
    argv += [a for f in files for a in ("-f", f)]
    argv += ["-p", project] if project else []
    argv += ["--env-file", env_file] if env_file != ".env" else []
    argv += [a for p in profiles for a in ("--profile", p)]
    return shlex.join([*argv, "--fix"])
