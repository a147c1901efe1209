"""ARP/NDP looks taken before the check that needs them.

A leftover line is reported by the check that follows podman's ``cleanup`` or ``remove``
event for its container, and that check waits for an ARP/NDP reply from the line's
address before it may call the line dead: in the 30-minute soaks (docs/benchmarks.md, H4
and P4) that wait was 0.36-0.47 s of every detection, and the check itself often queued
behind the one in progress. So when podman says a container is done with and a line of
it is still in its network's file, the watcher looks at once, beside the check in
progress; the check that reports the line then finds the answer waiting (or waits only
for the rest of a look that started earlier). A check asking again about an address a
check just found silent (a settling finding's recheck) reuses that answer too. And the
look with a cold check's wait that confirms an address the short wait found silent runs
beside the checks (``confirm``): the confirm check takes its answer, where it used to wait
1.5 s itself with the next stale line queued behind it.

Only SILENT answers are reused, for ``REUSE_SPAN`` seconds, and only by a check that
waits no longer than the look did. An address that answered may fall silent at any
moment (its namespace goes away), so ALIVE is always asked again. A silent one answers
again only if something takes the address: a podman container then shows in the listing
and the address is not asked about at all; another store's container within those
seconds is what the confirm check, with a cold check's wait (followups.CONFIRM_SILENT),
is there for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aardcheck.errors import AardcheckError
from aardcheck.models import AddressLiveness, IPAddress, Liveness, Scope, Snapshot
from aardcheck.sources.aardvark_files import read_network_file
from aardcheck.sources.liveness import LivenessRequest, check_liveness_many, liveness_budget

#: Seconds a SILENT answer is reused for.
REUSE_SPAN = 2.0
#: Looks run at once at most; an event beyond that gets none (its check asks itself).
MAX_LOOKS = 4

Key = tuple[str, IPAddress]
#: What asks on the wire: requests and a wait in seconds -> one answer per address.
Looker = Callable[[Sequence[LivenessRequest], float], tuple[AddressLiveness, ...]]


def ask_on_the_wire(
    requests: Sequence[LivenessRequest], timeout: float
) -> tuple[AddressLiveness, ...]:
    return check_liveness_many(requests, timeout=timeout)


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

    def record(self, answers: Sequence[AddressLiveness], waited: float, now: float) -> None:
        for key in [k for k, (at, _, _) in self._seen.items() if now - at > self.span]:
            del self._seen[key]
        for a in answers:
            if a.liveness is Liveness.SILENT:
                self._seen[(a.network, a.address)] = (now, waited, a)

    def reusable(self, key: Key, timeout: float, now: float) -> AddressLiveness | None:
        """The SILENT answer for ``key`` a check waiting ``timeout`` may take as its own."""
        seen = self._seen.get(key)
        if seen is None:
            return None
        at, waited, answer = seen
        return answer if now - at <= self.span and waited >= timeout else None


class LookAhead:
    """Looks started at podman's events and for the confirm check, and the liveness
    source of the watcher's checks (``liveness``): answers already taken, the rest asked
    on the wire."""

    def __init__(self, wait: float, looker: Looker = ask_on_the_wire) -> None:
        self.wait = wait
        self._looker = looker
        self._lock = threading.Lock()
        self._memory = SilentMemory()
        #: looks in progress, by the address and the wait they use
        self._pending: dict[tuple[Key, float], threading.Event] = {}
        self._running = 0
        self._lines: Mapping[str, tuple[LineAddresses, ...]] = {}
        self._rootless_uid: int | None = None
        #: looks started, and answers a check took from memory (for tests and logs)
        self.started = 0
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
            rootless_uid = self._rootless_uid

        def still_listed() -> list[LivenessRequest]:
            return [
                LivenessRequest(line.network, line.interface, line.addresses, rootless_uid)
                for line in lines
                if _still_listed(line.path, container_id)
            ]

        keys = [(line.network, a) for line in lines for a in line.addresses]
        self._start(keys, still_listed, self.wait)

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
        keys = [(r.network, a) for r in requests for a in r.addresses]
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
            if not new or self._running >= MAX_LOOKS:
                return
            self._running += 1
            self.started += 1
            done = threading.Event()
            for key in new:
                self._pending[(key, wait)] = done
        thread = threading.Thread(
            target=self._look,
            args=(requests, wait, new, done),
            name="aardcheck-lookahead",
            daemon=True,
        )
        thread.start()

    def _look(
        self,
        requests: Callable[[], list[LivenessRequest]],
        wait: float,
        keys: list[Key],
        done: threading.Event,
    ) -> None:
        try:
            if asked := requests():
                answers = self._looker(asked, wait)
                with self._lock:
                    self._memory.record(answers, wait, time.monotonic())
        except Exception:  # a look ahead is an optimisation: its check asks itself
            pass
        finally:
            with self._lock:
                self._running -= 1
                for key in keys:
                    if self._pending.get((key, wait)) is done:
                        del self._pending[(key, wait)]
            done.set()

    def liveness(
        self, requests: Sequence[LivenessRequest], timeout: float
    ) -> tuple[AddressLiveness, ...]:
        """One answer per address of ``requests``: answers it may reuse are taken, a look
        in progress with the same wait is waited for (it started earlier), the rest are
        asked."""
        keys = [(r.network, a) for r in requests for a in r.addresses]
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
        reused: dict[Key, AddressLiveness] = {}
        with self._lock:
            now = time.monotonic()
            for key in keys:
                if (answer := self._memory.reusable(key, timeout, now)) is not None:
                    reused[key] = answer
            self.reused += len(reused)
        ask = [
            LivenessRequest(r.network, r.interface, rest, r.rootless_uid, r.netns_path)
            for r in requests
            if (rest := tuple(a for a in r.addresses if (r.network, a) not in reused))
        ]
        asked = self._looker(ask, timeout) if ask else ()
        with self._lock:
            self._memory.record(asked, timeout, time.monotonic())
        found: Mapping[Key, AddressLiveness] = {
            **reused,
            **{(a.network, a.address): a for a in asked},
        }
        return tuple(found[k] for k in keys if k in found)


def _rootless_uid(snapshot: Snapshot) -> int | None:
    """The rootless user whose namespace holds the bridges (None: rootful)."""
    run_dir = snapshot.directory.run_dir
    return run_dir.uid if run_dir.scope is Scope.ROOTLESS else None


def lines_outlived(snapshot: Snapshot, known: Collection[str]) -> frozenset[str]:
    """Containers of ``known`` (seen, listed or by a line, before this check's listing was
    asked) that the listing no longer has, whose line is in their network's file on a read
    now, after that listing was answered.

    podman removes a container from its database only after its cleanup, where netavark
    removes the line (libpod's removeContainer: cleanup, then the state's RemoveContainer;
    a failed cleanup is reported and the removal goes on). So such a line is a leftover,
    not a teardown in progress, and needs no settle period whether podman's ``remove``
    event has come yet or not (4.3's came up to 3 s late in soak H5). ``known`` rules out
    a container created after the listing: its line is written after its creation."""
    gone = set(known) - {c.id for c in snapshot.podman.containers}
    found: set[str] = set()
    for f in snapshot.directory.files:
        wanted = {e.container_id for e in f.entries if e.container_id in gone} - found
        if wanted and (now := _content(f.path)):
            found |= {cid for cid in wanted if cid.encode() in now}
    return frozenset(found)


def _still_listed(path: Path, container_id: str) -> bool:
    """Whether the network's file still holds a line of ``container_id`` (netavark
    removes it before podman's cleanup event when the teardown works)."""
    return container_id.encode() in _content(path)


def _content(path: Path) -> bytes:
    """The file's bytes now; empty when it is gone or refused (nothing to look at)."""
    try:
        return read_network_file(path)
    except (OSError, AardcheckError):
        return b""
