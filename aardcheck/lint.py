"""``aardcheck lint``: grammar-only validation of aardvark files (no podman)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aardcheck.errors import EnvironmentUnavailable, UsageError
from aardcheck.models import LATEST_AARDVARK, AardvarkVersion, RunDir, Scope
from aardcheck.report.text_report import escape


@dataclass(frozen=True, slots=True)
class LintResult:
    path: Path
    version: AardvarkVersion
    ok: bool
    line_no: int | None = None
    reason: str = ""
    entries: int = 0
    #: False: the entry could not be looked at (so it is not ``ok`` either).
    checked: bool = True


def _as_run_dir(path: Path) -> RunDir | None:
    """A directory argument: an ``aardvark-dns`` dir, or a run dir that holds one."""
    if (path / "aardvark-dns").is_dir():
        return RunDir(path, Scope.ROOTFUL, 0)
    return RunDir(path.parent, Scope.ROOTFUL, 0) if path.is_dir() else None


def lint_paths(paths: list[Path], version: AardvarkVersion | None) -> tuple[LintResult, ...]:
    from aardcheck.aardvark_format import parse_network_file
    from aardcheck.sources import discovery
    from aardcheck.sources.aardvark_files import (
        installed_aardvark_version,
        read_dns_directory,
        read_network_file,
        unreadable_directory,
    )

    grammar = version or installed_aardvark_version() or LATEST_AARDVARK
    results: list[LintResult] = []
    if not paths:
        dirs = discovery.visible_run_dirs()
        if not dirs:
            raise UsageError("no aardvark-dns directory found; name files or directories")
        targets: list[Path | RunDir] = list(dirs)
    else:
        targets = []
        for p in paths:
            if not p.exists() and not p.is_symlink():
                raise UsageError(f"{p}: no such file or directory")
            targets.append(_as_run_dir(p) or p if p.is_dir() else p)
    for target in targets:
        if isinstance(target, RunDir):
            directory = read_dns_directory(target, grammar)
            if why := unreadable_directory(directory):
                raise EnvironmentUnavailable(why)  # nothing in it could be checked
            files = list(directory.files)
            for u in directory.unreadable:
                # Not read (or would break aardvark): never counted as accepted.
                checked = u.breaks_aardvark
                results.append(LintResult(u.path, grammar, False, reason=u.reason, checked=checked))
        else:
            content = read_network_file(target)
            files = [parse_network_file(target, content, grammar)]
        for f in files:
            results.append(
                LintResult(
                    path=f.path,
                    version=grammar,
                    ok=f.defect is None,
                    line_no=f.defect.line_no if f.defect else None,
                    reason=f.defect.reason if f.defect else "",
                    entries=len(f.entries),
                )
            )
    return tuple(results)


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
            }
            for r in results
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
