"""ARP/NDP looks taken before the check that needs them.

A leftover line is reported by the check that follows podman's ``cleanup`` or ``remove``
event for its container, and that check waits for an ARP/NDP reply from the line's
address before it may call the line dead: in the 30-minute soaks (docs/benchmarks.md, H4
and P4) that wait was 0.36-0.47 s of every detection, and the check itself often queued
behind the one in progress. So when podman says a container is done with and a line of
it is still in its network's file, the watcher looks at once, beside the check in
progress; the check that reports the line then finds the answer waiting (or waits only
for the rest of a look that started earlier). And the look with a cold check's wait
that confirms an address the short wait found silent runs beside the checks
(``confirm``): the confirm check takes its answer, where it used to wait 1.5 s itself
with the next stale line queued behind it.

Only the answers of these looks are taken, never a check's own: a settling finding's
recheck asks again, so a line is not called dead on fewer independent looks than before.
Only SILENT answers are taken, for ``REUSE_SPAN`` seconds, by a check that waits no
longer than the look did, on the same bridge from the same namespace. An address that
answered may fall silent at any moment (its namespace goes away), so ALIVE is always
asked again. A silent one answers again only if something takes the address: a podman
container then shows in the listing and the address is not asked about at all; another
store's container within those seconds is what the confirm check, with a cold check's
wait (followups.CONFIRM_SILENT), is there for. (The confirm check's answers are then up
to ~2 s older than the check; an address a podman container took meanwhile is in that
check's listing and not asked about.)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aardcheck.errors import AardcheckError
from aardcheck.models import AddressLiveness, IPAddress, Liveness, Scope, Snapshot
from aardcheck.sources.aardvark_files import read_network_file
from aardcheck.sources.liveness import LivenessRequest, check_liveness_many, liveness_budget
from aardcheck.sources.netns import Stopper

#: Seconds a SILENT answer is taken for.
REUSE_SPAN = 2.0
#: Looks of one wait (the events' short one, the confirm's cold one) running at once at
#: most; one beyond that is not started (its check asks itself).
MAX_LOOKS = 4

#: Seconds an address stays one a confirm look was meant for (its confirm check runs
#: followups.CONFIRM_AFTER later).
CONFIRMING_FOR = 5.0

#: Where an answer holds: network, bridge, rootless uid, namespace path, address.
Key = tuple[str, str, int | None, str | None, IPAddress]
#: What asks on the wire: requests, a wait in seconds and what may end it early -> one
#: answer per address.
Looker = Callable[[Sequence[LivenessRequest], float, Stopper | None], tuple[AddressLiveness, ...]]


def ask_on_the_wire(
    requests: Sequence[LivenessRequest], timeout: float, stopper: Stopper | None
) -> tuple[AddressLiveness, ...]:
    return check_liveness_many(requests, timeout=timeout, stopper=stopper)


def keys_of(requests: Iterable[LivenessRequest]) -> list[Key]:
    """One key per address, in the order the answers come in."""
    return [
        (r.network, r.interface, r.rootless_uid, r.netns_path, a)
        for r in requests
        for a in r.addresses
    ]


@dataclass(frozen=True, slots=True)
class LineAddresses:
    """A container's line in one network's file, as the last check read it."""

    network: str
    interface: str
    path: Path
    addresses: tuple[IPAddress, ...]


def lines_by_container(snapshot: Snapshot) -> dict[str, tuple[LineAddresses, ...]]:
    """Container id -> its lines that could be looked at (their network has a bridge)."""
    interfaces = {n.name: n.interface for n in snapshot.podman.networks if n.interface}
    found: dict[str, list[LineAddresses]] = {}
    for f in snapshot.directory.files:
        interface = interfaces.get(f.network)
        if not interface:
            continue
        for e in f.entries:
            if e.addresses:
                line = LineAddresses(f.network, interface, f.path, tuple(e.addresses))
                found.setdefault(e.container_id, []).append(line)
    return {cid: tuple(lines) for cid, lines in found.items()}


@dataclass(slots=True)
class SilentMemory:
    """SILENT answers with when they were taken and how long their look waited. Pure:
    every method takes ``now`` (a monotonic clock reading)."""

    span: float = REUSE_SPAN
    _seen: dict[Key, tuple[float, float, AddressLiveness]] = field(default_factory=dict)

    def record(
        self, answers: Iterable[tuple[Key, AddressLiveness]], waited: float, now: float
    ) -> None:
        for old in [k for k, (at, _, _) in self._seen.items() if now - at > self.span]:
            del self._seen[old]
        for key, a in answers:
            if a.liveness is Liveness.SILENT:
                self._seen[key] = (now, waited, a)

    def reusable(self, key: Key, timeout: float, now: float) -> AddressLiveness | None:
        """The SILENT answer for ``key`` a check waiting ``timeout`` may take as its own."""
        seen = self._seen.get(key)
        if seen is None:
            return None
        at, waited, answer = seen
        return answer if now - at <= self.span and waited >= timeout else None


class LookAhead:
    """Looks started at podman's events and for the confirm check, and the liveness
    source of the watcher's checks (``liveness``): those looks' answers, the rest asked
    on the wire."""

    def __init__(self, wait: float, looker: Looker = ask_on_the_wire) -> None:
        self.wait = wait
        self._looker = looker
        #: ends the looks' agents when the watcher stops (a check's own asks are not its)
        self._stopper = Stopper()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._memory = SilentMemory()
        #: looks in progress, by the key and the wait they use
        self._pending: dict[tuple[Key, float], threading.Event] = {}
        self._running: dict[float, int] = {}
        self._lines: Mapping[str, tuple[LineAddresses, ...]] = {}
        #: addresses a confirm look was meant for, and when
        self._confirming: dict[Key, float] = {}
        self._rootless_uid: int | None = None
        #: looks started and failed, answers checks took (for tests and the log)
        self.started = 0
        self.failed = 0
        self.reused = 0

    def learn(self, snapshot: Snapshot) -> None:
        """Remember the lines (and whose namespaces hold the bridges) a check saw."""
        lines = lines_by_container(snapshot)
        with self._lock:
            self._lines = lines
            self._rootless_uid = _rootless_uid(snapshot)

    def container_done(self, container_id: str) -> None:
        """Podman is done with ``container_id``: look at the addresses of its lines still
        in their files (on a thread; returns at once)."""
        with self._lock:
            lines = self._lines.get(container_id, ())
            uid = self._rootless_uid
        requests = [LivenessRequest(x.network, x.interface, x.addresses, uid) for x in lines]

        def still_listed() -> list[LivenessRequest]:
            return [
                r
                for r, line in zip(requests, lines, strict=True)
                if container_id.encode() in file_bytes(line.path)
            ]

        self._start(keys_of(requests), still_listed, self.wait)

    def confirm(self, snapshot: Snapshot, wait: float) -> None:
        """Look again, with the longer ``wait``, at every address ``snapshot`` found
        silent: the confirm check that follows takes these answers instead of waiting
        ``wait`` itself, and holds up no stale line behind it."""
        interfaces = {n.name: n.interface for n in snapshot.podman.networks if n.interface}
        silent: dict[str, list[IPAddress]] = {}
        for a in snapshot.liveness:
            if a.liveness is Liveness.SILENT and a.network in interfaces:
                silent.setdefault(a.network, []).append(a.address)
        uid = _rootless_uid(snapshot)
        requests = [
            LivenessRequest(net, interfaces[net], tuple(addresses), uid)
            for net, addresses in silent.items()
        ]
        keys = keys_of(requests)
        with self._lock:
            now = time.monotonic()
            for old in [k for k, at in self._confirming.items() if now - at > CONFIRMING_FOR]:
                del self._confirming[old]
            self._confirming.update(dict.fromkeys(keys, now))
        self._start(keys, lambda: requests, wait)

    def _start(
        self, keys: list[Key], requests: Callable[[], list[LivenessRequest]], wait: float
    ) -> None:
        """Look at ``keys`` on a thread, unless each is being looked at with ``wait``
        already or has an answer such a look would give; at most ``MAX_LOOKS`` at once."""
        with self._lock:
            now = time.monotonic()
            new = [
                k
                for k in keys
                if (k, wait) not in self._pending and not self._memory.reusable(k, wait, now)
            ]
            if not new or self._running.get(wait, 0) >= MAX_LOOKS:
                return
            done = threading.Event()
            self._begin(new, wait, done, +1)
            self.started += 1
        try:
            threading.Thread(
                target=self._look,
                args=(requests, wait, new, done),
                name="aardcheck-lookahead",
                daemon=True,
            ).start()
        except RuntimeError:  # no thread to be had: the check asks itself
            with self._lock:
                self._begin(new, wait, done, -1)
                self.started -= 1
            done.set()

    def _begin(self, keys: list[Key], wait: float, done: threading.Event, step: int) -> None:
        """Count a look in (+1) or out (-1), with its pending keys. Lock held."""
        self._running[wait] = self._running.get(wait, 0) + step
        for key in keys:
            if step > 0:
                self._pending[(key, wait)] = done
            elif self._pending.get((key, wait)) is done:
                del self._pending[(key, wait)]
        if step < 0:
            self._idle.notify_all()

    def _look(
        self,
        requests: Callable[[], list[LivenessRequest]],
        wait: float,
        keys: list[Key],
        done: threading.Event,
    ) -> None:
        try:
            if asked := requests():
                answers = self._looker(asked, wait, self._stopper)
                with self._lock:
                    self._memory.record(
                        zip(keys_of(asked), answers, strict=True), wait, time.monotonic()
                    )
        except Exception:  # a look ahead saves time only: its check asks itself
            with self._lock:
                self.failed += 1
        finally:
            with self._lock:
                self._begin(keys, wait, done, -1)
            done.set()

    def stop(self, timeout: float) -> bool:
        """End the looks in progress (their agents are killed; none starts after) and
        wait up to ``timeout`` seconds for them; True when none runs."""
        self._stopper.stop()
        return self.join(timeout)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the looks in progress to end (each ends
        within its wait's budget); True when none runs."""
        with self._idle:
            return self._idle.wait_for(lambda: not any(self._running.values()), timeout)

    def liveness(
        self, requests: Sequence[LivenessRequest], timeout: float
    ) -> tuple[AddressLiveness, ...]:
        """One answer per address of ``requests``: the looks' answers it may take, a look
        in progress with the same wait waited for (it started earlier), the rest asked.

        A confirm check (``timeout`` longer than the short wait) asks the addresses no
        confirm look was meant for - lines new since the check that found silence - with
        the short wait: they have had no look yet, and a silent answer of theirs says
        it waited less, so a confirm of their own follows (followups.to_confirm). Waiting
        the cold wait for them held up 2 of soak H6's 5 detections over 1 s. Only when a
        confirm look left an address unanswered (it failed, was not started, or heard a
        reply) is everything asked with the cold wait, as a cold check would."""
        keys = keys_of(requests)
        with self._lock:
            now = time.monotonic()
            waiting = {
                self._pending[(k, timeout)]
                for k in keys
                if (k, timeout) in self._pending and not self._memory.reusable(k, timeout, now)
            }
        deadline = time.monotonic() + liveness_budget(timeout)
        for done in waiting:
            done.wait(max(0.0, deadline - time.monotonic()))
        taken: dict[Key, AddressLiveness] = {}
        with self._lock:
            now = time.monotonic()
            for key in keys:
                if (answer := self._memory.reusable(key, timeout, now)) is not None:
                    taken[key] = answer
            self.reused += len(taken)
        ask = [
            LivenessRequest(r.network, r.interface, rest, r.rootless_uid, r.netns_path)
            for r in requests
            if (rest := tuple(a for a in r.addresses if _key(r, a) not in taken))
        ]
        if not ask:
            asked: tuple[AddressLiveness, ...] = ()
        elif timeout > self.wait and not self._meant_for_confirm(keys_of(ask)):
            asked = self.liveness(ask, self.wait)  # as a short check: looks ahead taken
        else:
            asked = self._looker(ask, timeout, None)
        found: Mapping[Key, AddressLiveness] = {
            **taken,
            **dict(zip(keys_of(ask), asked, strict=True)),
        }
        return tuple(found[k] for k in keys if k in found)

    def _meant_for_confirm(self, keys: Iterable[Key]) -> bool:
        with self._lock:
            now = time.monotonic()
            return any(now - self._confirming.get(k, -math.inf) <= CONFIRMING_FOR for k in keys)


def file_bytes(path: Path) -> bytes:
    """A network file's bytes now; empty when it is gone or refused (nothing there)."""
    try:
        return read_network_file(path)
    except (OSError, AardcheckError):
        return b""


def _key(request: LivenessRequest, address: IPAddress) -> Key:
    return (request.network, request.interface, request.rootless_uid, request.netns_path, address)


def _rootless_uid(snapshot: Snapshot) -> int | None:
    """The rootless user whose namespace holds the bridges (None: rootful). A check's own
    requests take it from podman's info: where the two differ, the keys do too, and no
    answer is taken."""
    run_dir = snapshot.directory.run_dir
    return run_dir.uid if run_dir.scope is Scope.ROOTLESS else None
