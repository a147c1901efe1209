"""Rendering ``aardcheck lint``'s verdicts: one line per file and a summary that names
what the installed aardvark does about them, or the JSON document
(``aardcheck.lint/1``). Pure."""

from __future__ import annotations

import json

from aardcheck.format.lint import Effect, LintResult
from aardcheck.models import LATEST_AARDVARK, AardvarkVersion
from aardcheck.report.visible import escape


def _consequence_note(results: tuple[LintResult, ...], version: AardvarkVersion) -> str:
    effects = {r.effect for r in results if not r.ok and r.checked}
    if Effect.ALL_DOWN in effects:
        return f" (aardvark {version}: DNS stops for every network on the host)"
    if Effect.START_FAILS in effects:
        return f" (aardvark {version} cannot start with this directory: no DNS at all)"
    if Effect.NETWORK_DOWN in effects:
        return f" (aardvark {version}: those networks get no DNS, the others keep resolving)"
    return ""


def render_text(results: tuple[LintResult, ...]) -> str:
    lines = []
    for r in results:
        if r.ok:
            note = f": {r.reason}" if r.reason else ""
            lines.append(f"ok      {escape(str(r.path))} ({r.entries} line(s)){note}")
        elif not r.checked:
            lines.append(f"UNCHECKED {escape(str(r.path))}: {escape(r.reason)}")
        else:
            where = f" line {r.line_no}" if r.line_no is not None else ""
            lines.append(f"REJECT  {escape(str(r.path))}{where}: {escape(r.reason)}")
    bad = sum(not r.ok and r.checked for r in results)
    unchecked = sum(not r.checked for r in results)
    version = results[0].version if results else LATEST_AARDVARK
    verdict = f"{bad} rejected" if bad else "all accepted"
    if unchecked:
        verdict = f"{bad or 'none'} rejected, {unchecked} could not be checked"
    verdict += _consequence_note(results, version)
    lines.append(f"{len(results)} file(s) checked against aardvark {version}: {verdict}")
    return "\n".join(lines) + "\n"


def render_json(results: tuple[LintResult, ...]) -> str:
    doc = {
        "schema": "aardcheck.lint/1",
        "files": [
            {
                "path": str(r.path),
                "aardvark_version": str(r.version),
                "ok": r.ok,
                "line": r.line_no,
                "reason": r.reason,
                "entries": r.entries,
                "checked": r.checked,
                "effect": r.effect.value,
            }
            for r in results
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
