"""Where the watcher's lines go. Formatting is pure; ``Reporter`` only routes and flushes.

- transitions: text on stderr, or with ``--format json`` one JSON object per line on
  stdout (schema ``aardcheck.watch/1``); repairs are reported the same way.
- everything else (start, problems, recoveries, ``--verbose`` check lines): stderr.

Under systemd (``JOURNAL_STREAM`` set) each stderr line starts with an ``<N>`` syslog
priority, which journald strips and stores as the entry's priority.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from aardcheck.findings import Finding, Severity
from aardcheck.repair.outcome import Change as RepairChange
from aardcheck.report.json_report import finding_dict
from aardcheck.report.visible import escape
from aardcheck.watch.options import WatchOptions
from aardcheck.watch.transitions import Change, Transition

SCHEMA = "aardcheck.watch/1"

# syslog priorities (sd-daemon.h)
CRIT, ERR, WARNING, NOTICE, INFO, DEBUG = 2, 3, 4, 5, 6, 7

_SEVERITY_PRIORITY = {
    Severity.CRITICAL: CRIT,
    Severity.ERROR: ERR,
    Severity.WARNING: WARNING,
    Severity.INFO: INFO,
}


def _where(f: Finding) -> str:
    parts = [f"network={escape(f.network)}"]
    if f.name:
        parts.append(f"name={escape(f.name)}")
    if f.container_id:
        parts.append(f"container={f.container_id[:12]}")
    if f.address:
        parts.append(f"address={f.address}")
    return " ".join(parts)


def transition_priority(t: Transition) -> int:
    if t.change is Change.RESOLVED:
        return NOTICE
    return _SEVERITY_PRIORITY.get(t.finding.severity, WARNING)


def transition_text(t: Transition) -> str:
    f = t.finding
    if t.change is Change.APPEARED:
        return f"appeared: {f.severity} {f.kind} {_where(f)}: {escape(f.message)}"
    return f"resolved: {f.kind} {_where(f)}"


def phases_text(phases: Iterable[tuple[str, float]]) -> str:
    """`` (listing 0.12 s, liveness 0.30 s)``: where a check's time went, for its log line."""
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases)
    return f" ({parts})" if parts else ""


def check_line(
    number: int,
    checked: frozenset[str] | None,
    reasons: Iterable[str],
    duration: float,
    phases: Iterable[tuple[str, float]],
    counts: tuple[int, int, int],
) -> str:
    """The debug line of a finished check; ``counts``: findings, settling, events so far."""
    nets = "all networks" if checked is None else f"{len(checked)} network(s)"
    found, settling, events = counts
    return (
        f"check #{number} of {nets} ({', '.join(reasons)}) took {duration:.2f} s"
        f"{phases_text(phases)}: {found} finding(s), {settling} settling; "
        f"{events} event(s) so far"
    )


def _now_iso(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transition_json(t: Transition, at: datetime | None = None) -> str:
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "event": str(t.change),
        "time": _now_iso(at),
        "finding": finding_dict(t.finding),
    }
    return json.dumps(doc, sort_keys=False)


def repair_text(c: RepairChange) -> str:
    where = f" {escape(c.target)}" if c.target else ""
    return f"repair {c.status}: {c.action}{where}: {escape(c.detail)}"


def repair_priority(c: RepairChange) -> int:
    return {"failed": ERR, "done": NOTICE}.get(c.status, INFO)


def repair_json(c: RepairChange, at: datetime | None = None) -> str:
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "event": "repair",
        "time": _now_iso(at),
        "repair": {
            "action": c.action,
            "network": c.network,
            "target": c.target,
            "status": c.status,
            "detail": c.detail,
            "before": c.before,
            "after": c.after,
        },
    }
    return json.dumps(doc)


def ready_line(dirs: Iterable[Path], options: WatchOptions) -> str:
    """What the watcher says (and tells systemd) once its first check is done."""
    watched = ", ".join(str(d) for d in dirs) or "nothing yet"
    mode = "json transitions on stdout" if options.json_output else "text"
    fix = ", fixing stale lines" if options.fix else ""
    return f"ready: watching {watched}; full check every {options.interval:g} s; {mode}{fix}"


def describe_error(err: BaseException) -> str:
    """One line: the error and where it was raised (journald-friendly, no traceback)."""
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {err}{where}"


def prefixed(priority: int, line: str, *, journal: bool) -> str:
    return f"<{priority}>{line}" if journal else f"aardcheck: {line}"


class Reporter:
    """Writes lines; one lock so lines from the event threads never interleave."""

    def __init__(
        self,
        *,
        json_output: bool,
        verbose: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        journal: bool | None = None,
    ) -> None:
        self.json_output = json_output
        self.verbose = verbose
        self._out = out or sys.stdout
        self._err = err or sys.stderr
        self.journal = bool(os.environ.get("JOURNAL_STREAM")) if journal is None else journal
        self._lock = threading.Lock()
        self._problems: dict[str, str] = {}

    def _log(self, priority: int, line: str) -> None:
        with self._lock:
            self._err.write(prefixed(priority, line, journal=self.journal) + "\n")
            self._err.flush()

    def _emit(self, doc: str) -> None:
        with self._lock:
            self._out.write(doc + "\n")
            self._out.flush()

    def transition(self, t: Transition) -> None:
        if self.json_output:
            self._emit(transition_json(t))
        else:
            self._log(transition_priority(t), transition_text(t))

    def repair(self, c: RepairChange) -> None:
        if self.json_output:
            self._emit(repair_json(c))
        else:
            self._log(repair_priority(c), repair_text(c))

    def info(self, line: str) -> None:
        self._log(INFO, line)

    def debug(self, line: str) -> None:
        if self.verbose:
            self._log(DEBUG if self.journal else INFO, line)

    def warning(self, line: str) -> None:
        self._log(WARNING, line)

    def error(self, line: str) -> None:
        self._log(ERR, line)

    def problem(self, key: str, line: str) -> None:
        """Report a lasting problem once (not on every retry) until ``recovered(key)``."""
        with self._lock:
            known = key in self._problems
            self._problems[key] = line
        if not known:
            self._log(ERR, line)

    def recovered(self, key: str, line: str) -> None:
        with self._lock:
            known = self._problems.pop(key, None) is not None
        if known:
            self._log(NOTICE, line)

    def has_problem(self, key: str) -> bool:
        with self._lock:
            return key in self._problems
