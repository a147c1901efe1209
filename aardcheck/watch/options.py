"""What the watcher is asked to do (built by the CLI, read by the service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aardcheck.runner.options import CheckOptions


@dataclass(frozen=True, slots=True)
class WatchOptions:
    check: CheckOptions = field(default_factory=CheckOptions)
    #: Prune stale lines and orphan files (never reloads, restarts or re-creates).
    fix: bool = False
    #: Full re-check at least this often (seconds): the safety net under the events.
    interval: float = 300.0
    #: Quiet period after the last event before a check (seconds).
    debounce: float = 0.5
    #: Never postpone a check longer than this after the first event of a burst.
    max_delay: float = 5.0
    #: A change is reported once it still holds this much later (0: at once).
    settle: float = 1.0
    json_output: bool = False
    verbose: bool = False
    metrics_address: str = "127.0.0.1"
    metrics_port: int | None = None
    textfile_dir: Path | None = None
    #: Per-network repair back-off: first wait, and the longest.
    repair_backoff: float = 10.0
    repair_backoff_cap: float = 900.0
    #: Longest pause between attempts to reach podman again.
    reconnect_cap: float = 30.0
