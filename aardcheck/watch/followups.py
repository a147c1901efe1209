"""What the watcher remembers between checks to decide when to look again. Pure: every
method takes ``now`` (a monotonic clock reading).

- ``LookAgain``: findings that depend on whether something answers change without any
  event (a leftover network namespace finally goes away, aardvark-dns answers again), so
  their networks are checked again after (first, longest) delays, doubling, until they
  resolve. A resolver-down is thus cleared by the next probe that gets answers, within
  seconds, not by the next full check.
- ``ContainerTransit``: containers podman said it is done with (their ``cleanup`` or
  ``remove`` event: a line of theirs still in a file is stale, not in transit, and needs
  no settle period), and containers in the middle of a change (while any is, a change
  seen by a check waits before it is reported).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aardcheck.findings import Finding, Kind
from aardcheck.models import AddressLiveness, Liveness
from aardcheck.watch.podman_events import BEGUN, FINISHED
from aardcheck.watch.schedule import Backoff

#: (first, longest) delay in seconds before a network with such a finding is checked again.
LOOK_AGAIN: dict[Kind, tuple[float, float]] = {
    Kind.UNKNOWN_ENTRY: (5.0, 300.0),
    Kind.RESOLVER_DOWN: (2.0, 30.0),
}

#: Seconds the watcher waits for an ARP/NDP reply from a leftover line's address. A line
#: it looks at is one podman no longer owns: a shorter wait only risks calling a
#: slow-answering leftover "dead" rather than "unknown" (both stale), and it is most of
#: the detection latency.
WATCH_LIVENESS_TIMEOUT = 0.3

#: The reason of a check that looks again, with a cold check's ARP/NDP wait, at networks
#: where the watcher's short wait found an address silent: until then the watcher's
#: answers for them could differ from a cold check's and are declined (answer_commands).
CONFIRM_SILENT = "confirm silent addresses"
#: Seconds after the short wait found silence before that check runs. Most silent
#: addresses are lines in transit (a container stopping keeps its line until its cleanup,
#: ~0.2-0.5 s): by then they are gone and the check waits for nothing. Run at once, it
#: waited the cold 1.5 s for them, and a stale line's settling check queued behind it (the
#: p95 detection latency of the podman 5 soak, 2.1 s). The look itself starts at once,
#: beside the checks (watch/lookahead.LookAhead.confirm): the check takes its answers
#: instead of waiting 1.5 s with a stale line queued behind it (soak H5: 2 of the 3
#: slowest detections).
CONFIRM_AFTER = 2.0

#: The listing failure podman 4.3 has while any container's netns is gone (runner's words).
VANISHED_NETNS = "network namespace of container"
#: The first wait before a check after such a failure, doubled at each further one up to
#: TRANSIENT_RETRY. The removal that ends it often follows within half a second: a first
#: retry 1 s later held up 2 of soak H6's 5 detections over 1 s.
TRANSIENT_FIRST = 0.25
#: Longest wait before a check after such a failure.
TRANSIENT_RETRY = 1.0

#: Containers whose last event is remembered (a bound, not a policy).
FINISHED_KEPT = 4096
#: Seconds podman's last word on a container is kept. The check an event asks for starts
#: within a second; a line first seen later than this after its cleanup (say, by a full
#: check after that check failed) only waits its settle period: a delay of seconds, the
#: same verdict. Without it the tables grew to FINISHED_KEPT (~1.5 MiB with their id
#: strings) over the watcher's life - under a soak's churn within the hour, on a quiet
#: host over days (docs/benchmarks.md, soak T).
TRANSIT_KEPT = 300.0
#: A begun change (a start, a teardown) that never ended stops counting after this.
TRANSIT_MAX = 30.0


def liveness_wait(reasons: Iterable[str], short: float, cold: float) -> float:
    """The ARP/NDP wait of a check: the short one, unless it confirms silent addresses."""
    return cold if CONFIRM_SILENT in reasons else short


def to_confirm(liveness: Iterable[AddressLiveness], waited: float, cold: float) -> frozenset[str]:
    """Networks with an address a look shorter than the cold wait found silent, to look
    at again with the cold wait. An answer says how long its look waited; ``waited``, the
    check's wait, stands in where it does not."""
    return frozenset(
        a.network
        for a in liveness
        if a.liveness is Liveness.SILENT and (waited if a.waited is None else a.waited) < cold
    )


def retry_delay(backoff: float, failure: str, failed_before: int) -> float:
    """The wait before the check after a failed one (``failed_before``: failures in a row
    before it). podman 4.3 lists nothing while a container's netns is gone, until someone
    runs ``podman rm`` (seconds): then look again soon - a removal is what ends it."""
    if VANISHED_NETNS not in failure:
        return backoff
    return min(backoff, TRANSIENT_RETRY, TRANSIENT_FIRST * 2.0**failed_before)


@dataclass(slots=True)
class LookAgain:
    """Per network: its back-off and the time a look is already promised for."""

    interval: float
    _networks: dict[str, tuple[Backoff, float]] = field(default_factory=dict)

    def due(self, current: Iterable[Finding], now: float) -> list[tuple[float, str, str]]:
        """New (when, network, reason) looks to promise, given the reported findings."""
        kinds: dict[str, Kind] = {}
        for f in current:
            if f.kind in LOOK_AGAIN and (
                f.network not in kinds or LOOK_AGAIN[f.kind] < LOOK_AGAIN[kinds[f.network]]
            ):
                kinds[f.network] = f.kind  # the most urgent kind sets the pace
        for net in set(self._networks) - set(kinds):
            del self._networks[net]
        promised: list[tuple[float, str, str]] = []
        for net, kind in sorted(kinds.items()):
            first, longest = LOOK_AGAIN[kind]
            backoff, at = self._networks.get(
                net, (Backoff(base=first, cap=min(longest, self.interval)), 0.0)
            )
            if at > now:
                continue  # already promised
            at = now + backoff.next_delay()
            self._networks[net] = (backoff, at)
            promised.append((at, net, f"{kind}: look again"))
        return promised


@dataclass(slots=True)
class ContainerTransit:
    """Per container, what podman's events last said: done with its networks (cleanup,
    remove) or in the middle of a change (created, initialised, died: not yet started or
    cleaned up). Both kept ``TRANSIT_KEPT`` seconds and bounded in size; a begun change
    older than ``TRANSIT_MAX`` no longer counts."""

    _finished: dict[str, float] = field(default_factory=dict)
    _begun: dict[str, float] = field(default_factory=dict)
    _last_event: float = float("-inf")

    def note(self, action: str, container_id: str, now: float) -> None:
        self._last_event = max(self._last_event, now)
        self._begun.pop(container_id, None)
        self._finished.pop(container_id, None)  # a restarted container is live again
        if action in FINISHED:
            self._finished[container_id] = now
        elif action in BEGUN:
            self._begun[container_id] = now
        _forget(self._finished, now)
        _forget(self._begun, now)

    def finished_before(self, when: float) -> frozenset[str]:
        """Containers whose cleanup was reported at or before ``when``."""
        return frozenset(cid for cid, at in list(self._finished.items()) if at <= when)

    def busy_at(self, when: float) -> bool:
        """Whether a container was in the middle of a change at ``when``, or podman
        reported a change since ``when`` (a check that started then may have seen half of
        it: its listing before, its probe after)."""
        if self._last_event >= when:
            return True
        return any(at <= when < at + TRANSIT_MAX for at in list(self._begun.values()))


def _forget(table: dict[str, float], now: float) -> None:
    """Drop old or surplus keys. ``note`` takes a key out before it puts it back, and its
    clock only advances, so the first key is always the oldest."""
    while table:
        oldest = next(iter(table))
        if len(table) <= FINISHED_KEPT and table[oldest] >= now - TRANSIT_KEPT:
            return
        del table[oldest]
