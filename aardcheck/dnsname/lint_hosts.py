"""``aardcheck lint .../dnsname/NET/addnhosts``: the dnsname plugin's file, judged by the
grammar dnsmasq reads it with (``hosts_format``). dnsmasq skips a bad line and serves the
rest, so a defect costs the names of that line only (``Effect.NONE`` for the network)."""

from __future__ import annotations

from pathlib import Path

from aardcheck.dnsname.hosts_format import parse_hosts
from aardcheck.format.lint import Effect, LintResult
from aardcheck.models import AardvarkVersion


def lint_addnhosts(path: Path, content: bytes, version: AardvarkVersion) -> LintResult:
    lines = parse_hosts(content)
    bad = next((ln for ln in lines if ln.defect is not None), None)
    count = sum(1 for ln in lines if ln.defect is not None)
    reason = ""
    if bad is not None:
        more = f" (and {count - 1} more line(s))" if count > 1 else ""
        reason = f"dnsname addnhosts: {bad.defect}{more}"
    return LintResult(
        path=path,
        version=version,
        ok=bad is None,
        line_no=bad.line_no if bad else None,
        reason=reason,
        entries=len(lines) - count,
        effect=Effect.NONE,
    )
