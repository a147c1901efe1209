"""``--textfile-dir`` of the one-shot commands (``check``, ``clean``): after the run,
write its metrics for node_exporter's textfile collector, also when the run failed.

The metrics and the atomic write are the watcher's (``aardcheck.watch.metrics``);
prometheus_client is imported only when the option is given.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aardcheck.cli.common import fail, say
from aardcheck.errors import ExitCode

if TYPE_CHECKING:
    from aardcheck.findings import Finding
    from aardcheck.models import ProbeAnswer
    from aardcheck.repair.outcome import Change


@dataclass(slots=True)
class RunRecord:
    """What one run found; ``ok`` stays False unless the run could look at all."""

    ok: bool = False
    findings: tuple[Finding, ...] = ()
    probes: tuple[ProbeAnswer, ...] = ()
    changes: tuple[Change, ...] = field(default_factory=tuple)

    def succeeded(
        self,
        findings: Iterable[Finding] = (),
        probes: Iterable[ProbeAnswer] = (),
        changes: Iterable[Change] = (),
    ) -> None:
        self.ok = True
        self.findings = tuple(findings)
        self.probes = tuple(probes)
        self.changes = tuple(changes)


@contextlib.contextmanager
def textfile_run(directory: Path | None, command: str) -> Iterator[RunRecord]:
    """Record one run; on the way out (exit code or error alike) write the textfile.

    A directory that cannot be written is a warning on stderr, not a change of the
    exit code: the run's own verdict stands, and the file's age tells a monitor.
    """
    if directory is not None and not directory.is_dir():
        raise fail(f"--textfile-dir {directory}: no such directory", ExitCode.USAGE)
    record = RunRecord()
    started = time.monotonic()
    try:
        yield record
    finally:
        if directory is not None:
            _write(directory, command, record, time.monotonic() - started)


def _write(directory: Path, command: str, record: RunRecord, duration: float) -> None:
    from aardcheck.watch.metrics import write_run_textfile

    try:
        write_run_textfile(
            directory,
            command,
            ok=record.ok,
            duration=duration,
            full=True,  # a one-shot run looks at everything it was asked to
            findings=record.findings,
            probes=record.probes,
            changes=record.changes,
        )
    except OSError as err:
        say(
            f"aardcheck: warning: cannot write metrics to {directory}: {err.strerror or err}",
            err=True,
        )
