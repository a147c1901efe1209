"""Reporting what a check knows before its probe answers.

A probe round that aardvark-dns 1.4 leaves unanswered (it drops queries while it
reloads, and netavark makes it reload on every container start and stop) costs a
timeout and a retry, more than the rest of the check. The findings that do not depend on
the probe (a stale line, a dead address, a missing name) are the same with or without
its answers, so they are settled and reported from the partial snapshot at once; the
probe's own findings wait for the whole check.
"""

from __future__ import annotations

from collections.abc import Callable

from aardcheck.checks.analysis import analyse, needs_probe
from aardcheck.findings import Finding, Kind
from aardcheck.models import Snapshot
from aardcheck.watch.followups import ContainerTransit
from aardcheck.watch.transitions import FindingTracker, Transition


def _decided_without_probe(f: Finding) -> bool:
    return not needs_probe(f)


def early_report(
    tracker: FindingTracker,
    transit: ContainerTransit,
    publish: Callable[[tuple[Transition, ...]], None],
    scope: frozenset[str] | None,
    started: float,
    ignore: tuple[Kind, ...],
) -> Callable[[Snapshot], None]:
    """The ``on_partial`` of one watcher check of ``scope`` that started at ``started``
    and ignores ``ignore``: settle the findings decided without the probe as the whole
    check will, and report them."""

    def on_partial(snapshot: Snapshot) -> None:
        update = tracker.update(
            analyse(snapshot, ignore=ignore),
            scope,
            started,
            finished=transit.finished_before(started),
            busy=transit.busy_at(started),
            covers=_decided_without_probe,
        )
        publish(update.transitions)

    return on_partial
