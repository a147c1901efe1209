"""Reporting what a check knows before its probe answers.

A probe round that aardvark-dns 1.4 leaves unanswered (it drops queries while it
reloads, and netavark makes it reload on every container start and stop) costs a
timeout and a retry, more than the rest of the check. The findings that do not depend on
the probe (a stale line, a dead address, a missing name) are the same with or without
its answers, so they are settled and reported from the partial snapshot at once; the
probe's own findings wait for the whole check.

A check whose probe is stuck in such a timeout also holds up the next check, and with
it the next stale line. When new work comes meanwhile, the check stops its probe
(``ProbePatience``; the probe's agents are killed, so nothing runs on and no namespace
stays held): it is over for everything but the probe's findings, and the next check,
which probes again from its own listing, starts at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from aardcheck.checks.analysis import analyse, needs_probe
from aardcheck.findings import Finding, Kind
from aardcheck.models import Snapshot
from aardcheck.watch.followups import ContainerTransit
from aardcheck.watch.lookahead import file_bytes
from aardcheck.watch.transitions import FindingTracker, Transition

#: The reason of the check that follows one that stopped its probe.
PROBE_STOPPED = "probe stopped for new work"
#: The reason of the check of networks holding lines of a container another check's
#: listing no longer had (``owed_checks``).
LINES_ELSEWHERE = "lines of a removed container elsewhere"


def without_probe(f: Finding) -> bool:
    """Whether ``f`` is decided without the probe (what a check that has not, or not
    yet, got the probe's answers covers)."""
    return not needs_probe(f)


def lines_outlived(snapshot: Snapshot, listed_before: Collection[str]) -> frozenset[str]:
    """Containers podman listed before this check began that its listing no longer has,
    each of whose lines in ``snapshot`` is still in its file on a read now, after that
    listing was answered.

    podman removes a container from its database only after its cleanup, where netavark
    removes its lines (libpod's removeContainer: cleanup first; a failed cleanup is
    reported and the removal goes on). Such lines are leftovers, not a teardown in
    progress, and need no settle period, whether podman's ``remove`` event has come yet
    or not (4.3's came up to 3 s late in soak H5). Only containers of this podman's own
    listing: another store's line says nothing about our database. A line gone on the
    re-read (a teardown that worked on one network) leaves the container to the settle
    period on all of them. (A container restored under the same id between the listing
    and the re-read would be taken for gone until the next check.)"""
    gone = set(listed_before) - {c.id for c in snapshot.podman.containers}
    lines: dict[str, list[Path]] = {}
    for f in snapshot.directory.files:
        for e in f.entries:
            if e.container_id in gone:
                lines.setdefault(e.container_id, []).append(f.path)
    now = {path: file_bytes(path) for paths in lines.values() for path in paths}
    return frozenset(
        cid for cid, paths in lines.items() if all(cid.encode() in now[p] for p in paths)
    )


def owed_checks(
    snapshot: Snapshot,
    listed_before: Collection[str],
    owed: Mapping[str, frozenset[str]],
    scope: Collection[str] | None,
    selection: Collection[str],
) -> dict[str, frozenset[str]]:
    """Container -> the networks still to be checked with it taken as listed before: it
    left podman's listing while it had a line in them, and no check has covered them
    since (``owed``: the previous answer; ``scope``: what this check covered, None for
    every network; only networks of the user's ``selection``, when there is one).

    A check's listing is the whole host's, so the next check of such a network would not
    find the container in the listing before it, and would leave its line to the settle
    period (soak H6: a detection of 1.39 s, its ``remove`` event late and the checks in
    between about other networks). The watcher keeps these containers in its ``listed
    before`` and checks their networks at once: ``lines_outlived`` then takes their lines
    as leftovers. Each network is owed once per container, so two networks holding
    lines of one removed container do not ask for each other's check for ever."""
    if scope is None:
        return {}
    listed = {c.id for c in snapshot.podman.containers}
    still = {
        cid: rest
        for cid, nets in owed.items()
        if cid not in listed and (rest := nets.difference(scope))
    }
    gone = set(listed_before) - listed - set(owed)
    new: dict[str, set[str]] = {}
    for f in snapshot.directory.files:
        if f.network in scope or (selection and f.network not in selection):
            continue
        for e in f.entries:
            if e.container_id in gone:
                new.setdefault(e.container_id, set()).add(f.network)
    return still | {cid: frozenset(nets) for cid, nets in new.items()}


def done_with(
    transit: ContainerTransit,
    snapshot: Snapshot | None,
    started: float,
    listed_before: Collection[str],
) -> frozenset[str]:
    """Containers a check that started at ``started`` may call gone without a settle
    period: podman said it was done with them before, or their lines outlived them."""
    outlived = lines_outlived(snapshot, listed_before) if snapshot is not None else frozenset()
    return transit.finished_before(started) | outlived


def early_report(
    tracker: FindingTracker,
    transit: ContainerTransit,
    publish: Callable[[tuple[Transition, ...]], None],
    scope: frozenset[str] | None,
    started: float,
    ignore: tuple[Kind, ...],
    listed_before: Collection[str],
) -> Callable[[Snapshot], None]:
    """The ``on_partial`` of one watcher check of ``scope`` that started at ``started``
    (when podman had last listed ``listed_before``) and ignores ``ignore``: settle the
    findings decided without the probe as the whole check will, and report them."""

    def on_partial(snapshot: Snapshot) -> None:
        update = tracker.update(
            analyse(snapshot, ignore=ignore),
            scope,
            started,
            finished=done_with(transit, snapshot, started, listed_before),
            busy=transit.busy_at(started),
            covers=without_probe,
        )
        publish(update.transitions)

    return on_partial


#: Seconds a probe may run before a check stops it when new work came: a probe
#: aardvark-dns answers takes ~60 ms (75 % of them within 0.09 s in the soaks H4 and P4);
#: one still running is mostly in a timeout (aardvark 1.4 answers nothing for seconds
#: while churn makes it reload, containers/aardvark-dns#389). The check that stops it
#: holds up the next one, and with it the next stale line, for this long.
GIVE_UP_AFTER = 0.12
#: Checks stop their probes only while the last probe waited for ended less than this
#: long ago: under any churn, the resolver's findings are at most this much (plus one
#: probe) late. Long, because the probe waited for holds up the next stale line: under
#: churn, aardvark-dns 1.4 answers nothing for 6-8 s at a time (docs/benchmarks.md,
#: bench/aardvark_gaps.py), and a probe waited for then takes its two silent attempts.
PATIENCE_SPAN = 30.0


class ProbePatience:
    """When a watcher check stops its probe: it has run ``GIVE_UP_AFTER``, work came
    since the check began (``requests`` counts the watcher's work requests), and a probe
    was waited for within ``PATIENCE_SPAN``. A check that stops its probe has reported
    everything but the probe's findings (``early_report``), and the next check starts at
    once and probes again."""

    def __init__(self, requests: Callable[[], int], clock: Callable[[], float] = time.monotonic):
        self._requests = requests
        self._clock = clock
        self._waited_at = -math.inf

    def for_check(self) -> Callable[[float], bool] | None:
        """The ``give_up`` of the check that begins now (None: wait for its probe)."""
        if self._clock() - self._waited_at >= PATIENCE_SPAN:
            return None
        seen = self._requests()
        return lambda ran: ran >= GIVE_UP_AFTER and self._requests() > seen

    def ended(self, stopped: bool) -> None:
        if not stopped:
            self._waited_at = self._clock()
