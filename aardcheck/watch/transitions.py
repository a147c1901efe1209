"""Which findings appeared and which resolved between two checks. Pure.

A finding is the same finding while its identity (``Finding.identity``: kind, network,
name, container id, address) is the same; its message may change without a transition.

A change is only reported once it *settles*: it must still hold on a check made at least
``settle`` seconds after it was first seen - a check that looked at it (its network, and
for the probe's findings, a probe). Podman passes through states in which the file
and its own view disagree for a moment (a container stopping has died but its line is
removed a little later; a starting container has its line before it runs); without the
settle period every ``podman stop`` would log a stale line that appears and resolves.
Where podman already said so, no waiting is needed: a finding about a container whose
cleanup podman reported finished (``finished``: its ``cleanup`` or ``remove`` event came
before the check started) is settled at once; the timer covers what events do not. And
while podman is *busy* - a container began a transition (created, initialised, died) that
has not ended (started, cleaned up, removed), or podman reported a change while the check
ran (its listing may predate the change, its probe follow it) - the timer waits, up to
``MAX_WAIT``: on a loaded host a start takes seconds between its line and its listing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from aardcheck.checks.analysis import sort_key
from aardcheck.findings import Finding, Kind

Identity = tuple[str, str, str, str, str]

#: Longest a change waits for podman to be done (then it is reported all the same).
MAX_WAIT = 10.0
#: Findings that must hold longer before they appear: aardvark-dns 1.4 drops the queries
#: that arrive while it reloads (netavark makes it reload on every container start and
#: stop), so under churn a probe can be silent twice while the resolver is up.
SETTLE_AT_LEAST: dict[Kind, float] = {Kind.RESOLVER_DOWN: 5.0}
#: Findings that say the container is gone: the ones a cleanup/remove event confirms
#: (a finding about a container podman still lists is not settled by its events).
GONE_KINDS = frozenset({Kind.DEAD_ENTRY, Kind.UNKNOWN_ENTRY})


class Change(enum.StrEnum):
    APPEARED = "appeared"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Transition:
    change: Change
    finding: Finding


@dataclass(frozen=True, slots=True)
class Update:
    """What one check changed: settled transitions, and when to look again to settle more."""

    transitions: tuple[Transition, ...] = ()
    #: When a confirming check is due (None: nothing is waiting to settle).
    recheck_at: float | None = None
    #: The networks of the changes waiting to settle.
    recheck_networks: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Pending:
    change: Change
    finding: Finding
    first_seen: float


def _in_scope(finding: Finding, scope: frozenset[str] | None) -> bool:
    return scope is None or finding.network in scope


@dataclass(slots=True)
class FindingTracker:
    """The findings reported so far, and the changes waiting to settle.

    ``update(found, scope, now)`` takes the findings of one check that looked at the
    networks in ``scope`` (None: every network); reported findings outside the scope are
    kept as they are, since that check could not have seen them. ``covers`` narrows the
    scope to the findings a partial check can decide (the part of a check done before
    its probe answered): the others are neither raised nor cleared by it.
    """

    settle: float = 0.0
    _reported: dict[Identity, Finding] = field(default_factory=dict)
    _pending: dict[Identity, _Pending] = field(default_factory=dict)

    @property
    def current(self) -> tuple[Finding, ...]:
        """Every reported (settled) finding, in report order."""
        return tuple(sorted(self._reported.values(), key=sort_key))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def update(
        self,
        found: Iterable[Finding],
        scope: frozenset[str] | None,
        now: float,
        finished: Collection[str] = frozenset(),
        busy: bool = False,
        covers: Callable[[Finding], bool] | None = None,
    ) -> Update:
        def in_scope(f: Finding) -> bool:
            return _in_scope(f, scope) and (covers is None or covers(f))

        seen = {f.identity: f for f in found if in_scope(f)}
        for ident, f in seen.items():
            if ident in self._reported:
                self._reported[ident] = f  # newest message and details
                self._pending.pop(ident, None)
            else:
                self._observe(ident, Change.APPEARED, f, now)
        for ident, f in list(self._reported.items()):
            if in_scope(f) and ident not in seen:
                self._observe(ident, Change.RESOLVED, f, now)
        for ident, p in list(self._pending.items()):
            if not in_scope(p.finding):
                continue
            still = (ident in seen) == (p.change is Change.APPEARED)
            if not still:
                del self._pending[ident]  # it flickered back: nothing to report
        # only what this update looked at may settle now: a change it does not cover
        # (the probe's, in a check's early part) must first be seen again by its own source
        return self._settle(now, finished, busy, in_scope)

    def _observe(self, ident: Identity, change: Change, finding: Finding, now: float) -> None:
        known = self._pending.get(ident)
        if known is None or known.change is not change:
            self._pending[ident] = _Pending(change, finding, now)
        else:
            known.finding = finding

    def _settle_of(self, p: _Pending) -> float:
        """The settle period of one change (0, the user's "at once", stays 0)."""
        if not self.settle or p.change is not Change.APPEARED:
            return self.settle
        return max(self.settle, SETTLE_AT_LEAST.get(p.finding.kind, 0.0))

    def _settle(
        self,
        now: float,
        finished: Collection[str],
        busy: bool,
        in_scope: Callable[[Finding], bool],
    ) -> Update:
        settled: list[Transition] = []
        waiting: list[tuple[_Pending, float]] = []
        for ident, p in list(self._pending.items()):
            if not in_scope(p.finding):
                continue
            told = (
                p.change is Change.APPEARED
                and p.finding.kind in GONE_KINDS
                and p.finding.container_id in finished
            )
            age, settle = now - p.first_seen, self._settle_of(p)
            if not told and age < settle:
                waiting.append((p, p.first_seen + settle))
                continue
            if not told and busy and settle > 0 and age < MAX_WAIT:
                waiting.append((p, min(now + settle, p.first_seen + MAX_WAIT)))
                continue
            del self._pending[ident]
            if p.change is Change.APPEARED:
                self._reported[ident] = p.finding
            else:
                self._reported.pop(ident, None)
            settled.append(Transition(p.change, p.finding))
        settled.sort(key=lambda t: (t.change is Change.APPEARED, sort_key(t.finding)))
        if not waiting:
            return Update(tuple(settled))
        return Update(
            tuple(settled),
            recheck_at=min(at for _, at in waiting),
            recheck_networks=frozenset(p.finding.network for p, _ in waiting),
        )
