"""Rendering a repair: the plan (also for --dry-run), the changes made, the verification."""

from __future__ import annotations

import json
from typing import Any

from aardcheck import __version__
from aardcheck.repair.outcome import Change, FixResult
from aardcheck.repair.plan import (
    Action,
    DeleteFile,
    PruneLines,
    RecreateNetwork,
    ReloadContainer,
    RepairPlan,
    RestartConsumer,
)
from aardcheck.report.json_report import finding_dict
from aardcheck.report.visible import escape

SCHEMA = "aardcheck.fix/1"


def describe(action: Action) -> str:
    match action:
        case PruneLines():
            names = ",".join(action.names) or action.container_id[:12]
            lines = ",".join(map(str, action.line_nos))
            return (
                f"prune line(s) {lines} of {names} ({action.container_id[:12]}) from "
                f"{action.path}: {action.reason}"
            )
        case DeleteFile():
            return f"delete {action.path}: {action.reason}"
        case ReloadContainer():
            return f"podman network reload {action.container_name}: {action.reason}"
        case RecreateNetwork():
            members = ", ".join(action.containers) or "no containers"
            return f"re-create network {action.network} with {members}: {action.reason}"
        case RestartConsumer():
            return f"restart {action.container_name}: {action.reason}"
    raise AssertionError(action)  # pragma: no cover - the match is exhaustive


def plan_text(plan: RepairPlan) -> str:
    out = []
    if plan.actions:
        out.append(f"plan ({len(plan.actions)} action(s)):")
        out.extend(f"  {i}. {escape(describe(a))}" for i, a in enumerate(plan.actions, 1))
    else:
        out.append("plan: nothing to repair")
    for s in plan.skipped:
        f = s.finding
        what = " ".join(x for x in (str(f.kind), f.network, f.name, f.address) if x)
        out.append(f"  not repaired: {escape(what)}: {s.reason}")
    for net, names in plan.consumers:
        out.append(
            f"  containers on {escape(net)} that may have cached a stale address: "
            f"{escape(', '.join(names))} (--restart-consumers restarts them)"
        )
    return "\n".join(out) + "\n"


def change_line(c: Change) -> str:
    where = f" [{escape(c.network)}]" if c.network else ""
    return f"{c.status:7} {c.action}{where} {escape(c.target)}: {escape(c.detail)}"


def render_text(result: FixResult, dry_run: bool) -> str:
    out = [plan_text(result.plan)]
    if dry_run:
        out.append("dry run: nothing was changed\n")
        return "".join(out)
    if not result.applied:
        if result.plan.actions:
            out.append("not applied\n")
        return "".join(out)
    out.append("".join(change_line(c) + "\n" for c in result.changes))
    if result.after is not None:
        left = result.after.findings
        nets = escape(", ".join(result.after.checked_networks))
        if left:
            out.append(f"verification: {len(left)} finding(s) remain on {nets}:\n")
            out.extend(f"  {f.kind} {escape(f.message)}\n" for f in left)
        else:
            out.append(f"verification: {nets} clean (files and DNS answers)\n")
    if any(c.status == "failed" for c in result.changes):
        out.append(
            "repair incomplete: see the failed steps above, fix their cause, then run "
            "`aardcheck fix` again (`aardcheck fix --resume` for an interrupted re-create)\n"
        )
    return "".join(out)


def _action_dict(a: Action) -> dict[str, Any]:
    d: dict[str, Any] = {"action": type(a).__name__, "description": describe(a)}
    d.update({k: getattr(a, k) for k in a.__slots__})
    return d


def render_json(result: FixResult, dry_run: bool) -> str:
    doc = {
        "schema": SCHEMA,
        "tool": {"name": "aardcheck", "version": __version__},
        "dry_run": dry_run,
        "applied": result.applied,
        "exit_code": int(result.exit_code),
        "before": [finding_dict(f) for f in result.before.findings],
        "plan": {
            "actions": [_action_dict(a) for a in result.plan.actions],
            "skipped": [
                {"finding": finding_dict(s.finding), "reason": s.reason}
                for s in result.plan.skipped
            ],
            "consumers": {net: list(names) for net, names in result.plan.consumers},
        },
        "changes": [c.as_dict() for c in result.changes],
        "after": None
        if result.after is None
        else {
            "networks": list(result.after.checked_networks),
            "findings": [finding_dict(f) for f in result.after.findings],
        },
    }
    return json.dumps(doc, indent=2) + "\n"
