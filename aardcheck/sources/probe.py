"""Ask each network's aardvark-dns what its members get, from inside the network.

aardvark-dns chooses the records it answers from by the query's *source* address, so a
probe is only meaningful when sent from a member's network namespace to the network's
gateway. The DNS messages are built and parsed here with dnspython; the namespace agent
(see ``netns``) only carries the bytes, so it starts fast and needs no third-party code.

Every question is asked ``count`` times; all questions of all networks are in flight
together (a bounded window per network), so a run takes about as long as the slowest
network - at most ``probe_budget(timeout)`` plus the agent's start. A network that cannot
be asked becomes a ``ProbeSkipped`` with the reason; a resolver that does not answer gives
``TIMEOUT`` tries.

A network that answered nothing is asked a second time (``RETRY_PAUSE`` later, through
another running member when the caller named one), and its silence is reported only when
both attempts got nothing: one attempt can coincide with its member leaving (the replies
then have nowhere to go) or aardvark reloading. A member that is gone by then (its
namespace vanished, its address no longer there) makes the network skipped, never silent.

Caveat of aardvark 1.4: a name it does not know is forwarded to the upstream servers when
it holds a dot (``a.b``); single-label names are answered NXDOMAIN locally.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from typing import Protocol

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from aardcheck.models import IPAddress, ProbeAnswer, ProbeSkipped, ProbeStatus, ProbeTry
from aardcheck.sources.netns import Entry, Stopper, TaskResult, entry_for, run_agents

DNS_PORT = 53
DEFAULT_RDTYPES = ("A", "AAAA")
#: Questions one network's resolver has in flight at once (more would risk socket drops).
WINDOW = 32
#: Pause before a silent network is asked again (lets a teardown or a reload finish).
RETRY_PAUSE = 0.3
#: Silent attempts before a network's silence counts (resolver-down needs two).
ATTEMPTS = 2
#: Rounds at most: a member that cannot be used costs one, and is replaced.
MAX_ATTEMPTS = 3


class PlannedProbe(Protocol):
    """What a probe plan says about one network (``checks.probe_plan``, ``dnsname``)."""

    @property
    def network(self) -> str: ...
    @property
    def server(self) -> IPAddress: ...
    @property
    def netns_path(self) -> str: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> IPAddress | None: ...
    @property
    def alternates(self) -> tuple[tuple[str, IPAddress], ...]: ...


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """Ask ``server`` for ``names`` from the namespace at ``netns_path``.

    ``netns_path`` is a running member's namespace as *this* process reaches it: root
    uses ``/proc/PID/ns/net`` (a rootless ``SandboxKey`` is bound in the user's mount
    namespace, an empty file on the host). ``rootless_uid`` None: a rootful network,
    entered directly; a uid: that user's network (root enters directly, the user itself
    through ``podman unshare``). ``source``, the member's own address on the network,
    makes the question come from exactly that address, and a namespace that does not
    hold it (the container is gone, its pid was reused) is skipped before anything is sent.
    """

    network: str
    server: IPAddress
    netns_path: str
    names: tuple[str, ...]
    rootless_uid: int | None = None
    source: IPAddress | None = None
    #: Other running members, (netns_path, source) each: a second attempt asks from the
    #: first of them (from the same member when there is none).
    alternates: tuple[tuple[str, IPAddress], ...] = ()

    @classmethod
    def planned(cls, plan: PlannedProbe, rootless_uid: int | None) -> ProbeTarget:
        """The target a probe plan (the aardvark one or dnsname's) names."""
        return cls(
            network=plan.network,
            server=plan.server,
            netns_path=plan.netns_path,
            names=plan.names,
            rootless_uid=rootless_uid,
            source=plan.source,
            alternates=plan.alternates,
        )

    def next_member(self) -> ProbeTarget:
        """This target as asked by its next alternate member (itself when none is left)."""
        if not self.alternates:
            return self
        (netns_path, source), rest = self.alternates[0], self.alternates[1:]
        return replace(self, netns_path=netns_path, source=source, alternates=rest)


def probe_budget(timeout: float) -> float:
    """Seconds the in-namespace part of a run may take at most (agent start not included)."""
    return 3 * timeout + 0.5


def probe_total_budget(timeout: float) -> float:
    """Seconds ``probe_networks`` may take at most with every retry (agent starts not
    included)."""
    return MAX_ATTEMPTS * probe_budget(timeout) + (MAX_ATTEMPTS - 1) * RETRY_PAUSE


@dataclass(slots=True)
class _Question:
    """One (name, rdtype), asked once per id; ``query`` None when it cannot be asked."""

    name: str
    rdtype: str
    query: dns.message.Message | None
    ids: list[int] = field(default_factory=list)
    invalid: str = ""

    def wires(self) -> list[bytes]:
        if self.query is None:
            return []
        body = self.query.to_wire()[2:]
        return [qid.to_bytes(2, "big") + body for qid in self.ids]


@dataclass(slots=True)
class _Plan:
    target: ProbeTarget
    questions: list[_Question]


def probe_networks(
    targets: Sequence[ProbeTarget],
    *,
    count: int = 3,
    timeout: float = 1.0,
    rdtypes: Sequence[str] = DEFAULT_RDTYPES,
    stopper: Stopper | None = None,
) -> tuple[tuple[ProbeAnswer, ...], tuple[ProbeSkipped, ...]]:
    """Ask every target's names ``count`` times per rdtype; answers and skipped networks.
    ``stopper`` ends the run at once from another thread (what it returns then is
    incomplete: meant for a caller that no longer waits for it)."""
    if count < 1 or not 0 < timeout <= 30:
        raise ValueError("count must be >= 1 and timeout in (0, 30] seconds")
    for rdtype in rdtypes:
        dns.rdatatype.from_text(rdtype)  # raises on an unknown type: a caller's mistake
    plans = [_plan(t, count, rdtypes) for t in targets]
    outcome = _attempts(plans, count, timeout, rdtypes, stopper or Stopper())
    answers: list[ProbeAnswer] = []
    skipped: list[ProbeSkipped] = []
    for plan in plans:
        plan_answers, plan_skipped = outcome[id(plan)]
        answers.extend(plan_answers)
        if plan_skipped is not None:
            skipped.append(plan_skipped)
    return tuple(answers), tuple(skipped)


Outcome = tuple[list[ProbeAnswer], ProbeSkipped | None]


def _ask(plans: Sequence[_Plan], timeout: float, stopper: Stopper) -> dict[int, Outcome]:
    """One attempt for every plan, all at once (one agent per entry); by ``id(plan)``."""
    by_entry: dict[Entry, list[_Plan]] = {}
    for plan in plans:
        by_entry.setdefault(entry_for(plan.target.rootless_uid), []).append(plan)
    jobs = [
        (entry, [_task(p, timeout) for p in entry_plans]) for entry, entry_plans in by_entry.items()
    ]
    results = run_agents(jobs, budget=probe_budget(timeout), stopper=stopper)
    outcome: dict[int, Outcome] = {}
    for entry_plans, entry_results in zip(by_entry.values(), results, strict=True):
        for plan, result in zip(entry_plans, entry_results, strict=True):
            outcome[id(plan)] = _decode(plan, result)
    return outcome


def _silent(answers: Sequence[ProbeAnswer]) -> bool:
    tries = [t for a in answers for t in a.tries if t.status is not ProbeStatus.ERROR]
    return bool(tries) and all(t.status is ProbeStatus.TIMEOUT for t in tries)


@dataclass(slots=True)
class _Progress:
    """One network's attempts so far: the silent ones, and its decided outcome."""

    plan: _Plan
    silent: list[list[ProbeAnswer]] = field(default_factory=list)
    done: Outcome | None = None
    last_skip: ProbeSkipped | None = None


def _attempts(
    plans: Sequence[_Plan],
    count: int,
    timeout: float,
    rdtypes: Sequence[str],
    stopper: Stopper,
) -> dict[int, Outcome]:
    """Ask until each network answered, was silent twice, or cannot be asked (bounded:
    ``MAX_ATTEMPTS`` rounds, all networks of a round at once), or ``stopper`` stops."""
    progress = {id(p): _Progress(p) for p in plans}
    current = {id(p): p for p in plans}
    for round_ in range(MAX_ATTEMPTS):
        if stopper.stopped.wait(RETRY_PAUSE if round_ else 0):
            break
        outcome = _ask(list(current.values()), timeout, stopper)
        again: dict[int, _Plan] = {}
        for key, plan in current.items():
            state = progress[key]
            answers, skipped = outcome[id(plan)]
            if skipped is not None:
                state.last_skip = skipped
                movable = bool(plan.target.alternates) and "gateway itself" not in skipped.reason
                if not movable:
                    state.done = _unsettled(state) if state.silent else ([], skipped)
            elif _silent(answers):
                state.silent.append(answers)
                if len(state.silent) >= ATTEMPTS:
                    state.done = (_merge(state.silent), None)
            else:
                state.done = (answers, None)
            if state.done is None:
                again[key] = _plan(plan.target.next_member(), count, rdtypes)
        current = again
        if not current:
            break
    return {
        id(state.plan): state.done if state.done is not None else _unsettled(state)
        for state in progress.values()
    }


def _merge(attempts: Sequence[Sequence[ProbeAnswer]]) -> list[ProbeAnswer]:
    """Silent attempts add up (the resolver-down message counts every query sent)."""
    first, *rest = attempts
    return [
        replace(a, tries=a.tries + tuple(t for r in rest for t in r[i].tries))
        for i, a in enumerate(first)
    ]


def _unsettled(state: _Progress) -> Outcome:
    """Silent once, and no second attempt could be made: not silence, not an answer."""
    target = state.plan.target
    why = state.last_skip.reason if state.last_skip else "no attempt left"
    reason = f"cannot probe {target.server}: no answer once, and no second attempt ({why})"
    if not state.silent:
        return [], state.last_skip or ProbeSkipped(target.network, reason)
    return [], ProbeSkipped(target.network, reason)


def _plan(target: ProbeTarget, count: int, rdtypes: Sequence[str]) -> _Plan:
    next_id = random.randrange(65536)
    questions: list[_Question] = []
    for name in dict.fromkeys(target.names):
        for rdtype in rdtypes:
            try:
                query = dns.message.make_query(name, rdtype)
            except dns.exception.DNSException as exc:
                questions.append(_Question(name, rdtype.upper(), None, [], f"cannot ask: {exc}"))
                continue
            ids = [(next_id + i) % 65536 for i in range(count)]
            next_id = (next_id + count) % 65536
            questions.append(_Question(name, rdtype.upper(), query, ids))
    return _Plan(target, questions)


def _task(plan: _Plan, timeout: float) -> dict[str, object]:
    return {
        "kind": "dns",
        "netns": plan.target.netns_path,
        "server": str(plan.target.server),
        "bind": str(plan.target.source) if plan.target.source else None,
        "port": DNS_PORT,
        "timeout": timeout,
        "window": WINDOW,
        "queries": [wire.hex() for question in plan.questions for wire in question.wires()],
    }


def _decode(plan: _Plan, result: TaskResult) -> tuple[list[ProbeAnswer], ProbeSkipped | None]:
    target = plan.target
    where = f"cannot probe {target.server}"
    if result.get("error"):
        return [], ProbeSkipped(target.network, f"{where}: {result['error']}")
    replies = result.get("replies")
    if not isinstance(replies, list) or len(replies) != sum(len(q.ids) for q in plan.questions):
        return [], ProbeSkipped(target.network, f"{where}: the agent's reply is incomplete")
    if result.get("source") == str(target.server):
        reason = f"{where}: {target.netns_path} holds the gateway itself, not a member"
        return [], ProbeSkipped(target.network, reason)
    answers, position = [], 0
    for question in plan.questions:
        if question.query is None:
            tries = [ProbeTry(ProbeStatus.ERROR, detail=question.invalid)]
        else:
            tries = _tries(question.query, replies[position : position + len(question.ids)])
            position += len(question.ids)
        answers.append(
            ProbeAnswer(target.network, question.name, question.rdtype, target.server, tuple(tries))
        )
    return answers, None


def _tries(query: dns.message.Message, replies: Sequence[object]) -> list[ProbeTry]:
    """One try per agent reply; equal replies (but for the id) are parsed once."""
    parsed: dict[bytes, ProbeTry] = {}
    tries = []
    for reply in replies:
        if not isinstance(reply, Mapping):
            tries.append(ProbeTry(ProbeStatus.ERROR, detail="the agent's reply is malformed"))
            continue
        ms = reply.get("ms")
        latency = float(ms) if isinstance(ms, int | float) else 0.0
        wire = reply.get("wire")
        if isinstance(wire, str):
            body = bytes.fromhex(wire)[2:]  # the agent matched the id to this question
            if body not in parsed:
                parsed[body] = _try_from_wire(query, query.id.to_bytes(2, "big") + body)
            tries.append(replace(parsed[body], latency_ms=latency))
        elif reply.get("error") == "timeout":
            detail = str(reply.get("detail") or "")
            tries.append(ProbeTry(ProbeStatus.TIMEOUT, latency_ms=latency, detail=detail))
        else:
            error = str(reply.get("error") or "no reply")
            tries.append(ProbeTry(ProbeStatus.ERROR, latency_ms=latency, detail=error))
    return tries


def _try_from_wire(query: dns.message.Message, wire: bytes) -> ProbeTry:
    try:
        response = dns.message.from_wire(wire)
    except Exception as exc:  # dnspython raises many types on malformed input
        return ProbeTry(ProbeStatus.ERROR, detail=f"malformed reply: {exc}")
    if not query.is_response(response):
        return ProbeTry(ProbeStatus.ERROR, detail="reply to another question")
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return ProbeTry(ProbeStatus.NXDOMAIN)
    if rcode == dns.rcode.SERVFAIL:
        return ProbeTry(ProbeStatus.SERVFAIL)
    if rcode != dns.rcode.NOERROR:
        return ProbeTry(ProbeStatus.ERROR, detail=dns.rcode.to_text(rcode))
    rdtype = query.question[0].rdtype
    rrsets = [r for r in response.answer if r.rdtype == rdtype]
    if not rrsets:
        return ProbeTry(ProbeStatus.NOANSWER)
    addresses: set[IPAddress] = set()
    for rrset in rrsets:
        for rdata in rrset:
            text = getattr(rdata, "address", None)
            if isinstance(text, str):
                addresses.add(ip_address(text))
    records = int.from_bytes(wire[6:8], "big")  # ANCOUNT: dnspython folds duplicates
    detail = f"{records} records for {len(addresses)} addresses" if records > len(addresses) else ""
    return ProbeTry(
        ProbeStatus.ANSWER,
        addresses=frozenset(addresses),
        ttl=min(r.ttl for r in rrsets),
        detail=detail,
    )
