"""When to check and when to repair: debounce, back-off, and the per-network repair gate.

Pure: every method takes ``now`` (a monotonic clock reading), so the timing rules are
tested with literal numbers and no sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: At most this many distinct reasons are kept for the log line of one check.
MAX_REASONS = 6


@dataclass(frozen=True, slots=True)
class Batch:
    """One check to run: the networks involved (None: every network) and why."""

    networks: frozenset[str] | None
    reasons: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        return self.networks is None

    def merge(self, other: Batch) -> Batch:
        nets = (
            None
            if self.networks is None or other.networks is None
            else self.networks | other.networks
        )
        return Batch(nets, _merge_reasons(self.reasons, other.reasons))


def _merge_reasons(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    merged = list(dict.fromkeys((*a, *b)))
    return tuple(merged[:MAX_REASONS])


@dataclass(slots=True)
class Debouncer:
    """Collects requests; a batch is due after ``quiet`` seconds without a new one, or
    ``max_delay`` seconds after the first, whichever comes first (a steady trickle of
    events must not postpone the check for ever). Once an ``urgent`` request is in the
    batch (podman said a container's teardown is over: nothing more is coming for it),
    ``urgent_quiet`` replaces ``quiet``."""

    quiet: float
    max_delay: float
    urgent_quiet: float = 0.05
    _batch: Batch | None = None
    _first: float = 0.0
    _last: float = 0.0
    _urgent: bool = False

    def add(
        self, now: float, networks: frozenset[str] | None, reason: str, *, urgent: bool = False
    ) -> None:
        request = Batch(networks, (reason,))
        if self._batch is None:
            self._batch, self._first = request, now
        else:
            self._batch = self._batch.merge(request)
        self._last = now
        self._urgent = self._urgent or urgent

    @property
    def pending(self) -> bool:
        return self._batch is not None

    def due_at(self) -> float | None:
        if self._batch is None:
            return None
        quiet = min(self.quiet, self.urgent_quiet) if self._urgent else self.quiet
        return min(self._last + quiet, self._first + self.max_delay)

    def take(self, now: float) -> Batch | None:
        """The batch, if it is due at ``now`` (and forget it)."""
        due = self.due_at()
        if due is None or now < due or self._batch is None:
            return None
        batch, self._batch, self._urgent = self._batch, None, False
        return batch


@dataclass(frozen=True, slots=True)
class Deferred:
    """A check to run no earlier than ``at`` (a settle confirmation, a retry, ...)."""

    at: float
    batch: Batch


@dataclass(slots=True)
class Timetable:
    """Checks promised for later. Merges promises, so it never holds more than one per
    distinct time and the loop's next wake-up is ``next_at``."""

    _items: list[Deferred] = field(default_factory=list)

    def add(self, at: float, batch: Batch) -> None:
        for i, d in enumerate(self._items):
            if abs(d.at - at) < 0.05:
                self._items[i] = Deferred(min(d.at, at), d.batch.merge(batch))
                return
        self._items.append(Deferred(at, batch))

    def next_at(self) -> float | None:
        return min((d.at for d in self._items), default=None)

    def take(self, now: float) -> Batch | None:
        due = [d for d in self._items if d.at <= now]
        if not due:
            return None
        self._items = [d for d in self._items if d.at > now]
        batch = due[0].batch
        for d in due[1:]:
            batch = batch.merge(d.batch)
        return batch

    def __len__(self) -> int:
        return len(self._items)


@dataclass(slots=True)
class Backoff:
    """Exponential back-off: ``base``, ``base*factor``, ... capped at ``cap`` seconds."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * self.factor**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


@dataclass(slots=True)
class _GateState:
    streak: int
    last: float
    open_at: float


@dataclass(slots=True)
class RepairGate:
    """Per-network rate limit with exponential back-off.

    The first repair of a network may happen at once; after it the network is closed for
    ``base`` seconds, after the next for ``2*base``, ... up to ``cap``. A failed repair
    counts twice. A network whose last repair is ``forget_after`` seconds old starts
    afresh. So a network that keeps getting stale lines (a flapping container, a broken
    netavark) is repaired ever more rarely instead of in a storm, and each refusal is
    visible in the log.
    """

    base: float = 10.0
    cap: float = 900.0
    forget_after: float = 1800.0
    _networks: dict[str, _GateState] = field(default_factory=dict)

    def open_at(self, network: str, now: float) -> float:
        """The earliest time ``network`` may be repaired (``now`` or earlier: open)."""
        state = self._networks.get(network)
        if state is None or now - state.last >= self.forget_after:
            return now
        return state.open_at

    def allows(self, network: str, now: float) -> bool:
        return self.open_at(network, now) <= now

    def record(self, network: str, now: float, *, ok: bool) -> float:
        """Note a repair attempt at ``now``; returns when the network opens again."""
        state = self._networks.get(network)
        streak = 0 if state is None or now - state.last >= self.forget_after else state.streak
        streak += 1 if ok else 2
        wait = min(self.cap, self.base * 2.0 ** (streak - 1))
        self._networks[network] = _GateState(streak, now, now + wait)
        return now + wait
