"""``fix --strategy recreate`` and ``fix --resume``: rebuild a network its file cannot describe.

Steps, each recorded in the journal (``repair.journal``) before the next one starts:

1. record the network's libpod definition (minus ``id`` and ``created``) and, per member,
   its aliases (minus the short id), addresses and MAC; write the journal (fsync);
2. disconnect each member (running containers keep running);
3. ``DELETE /networks/NET`` (never ``force``: that would stop or remove containers);
4. delete ``aardvark-dns/NET`` (and ``NET%int``) under netavark's locks - only a regular
   file - so no stale line survives into the new network;
5. ``POST /networks/create`` with the recorded definition (labels included: podman-compose
   only removes networks carrying its project label);
6. reconnect each member with its aliases, addresses and MAC, sending the libpod body
   ourselves (the ``podman`` package's ``Network.connect`` drops aliases and addresses).

Every step checks podman's live state first, so it can be redone after a crash
(``recreate_steps``).

**The resume rule.** ``fix --resume`` completes a re-create whenever it can and rolls it
back only while rolling back is still a no-loss option:

- before the network was removed (it still exists under its original id): complete it,
  unless a container that is not in the journal joined the network meanwhile (removing
  the network would drop that container) or a step fails; then roll back, i.e. reconnect
  every recorded container to the original network with its recorded settings;
- once the network was removed, only completion restores it: create it again and
  reconnect everyone. A step that fails (subnet taken, address taken, a foreign network
  of the same name) leaves the journal in place with the reason; nothing recorded is lost
  and ``--resume`` can be run again once the cause is gone.

The same rule settles a re-create whose step fails without a crash. A failing step is
first retried (``STEP_TRIES``): being idempotent, retrying is always safe.

Limits (podman 4.3): current addresses are pinned as static ones, so addresses that were
dynamic become static; a stopped member's static settings are known only from its create
command; the in-container interface name (``eth0``...) is not recorded (4.3 does not
show it) and podman picks the first free one; the network gets a new id; if another
network took the bridge name meanwhile, podman picks a new one (and says so).
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aardcheck.errors import EnvironmentUnavailable, ExitCode
from aardcheck.models import RunDir
from aardcheck.repair import journal as jr
from aardcheck.repair.journal import Journal, Mode, Step, StepKind, StepStatus
from aardcheck.repair.locks import LockTimeout, podman_lock_path
from aardcheck.repair.outcome import Change
from aardcheck.repair.plan import RecreateNetwork
from aardcheck.repair.recorded import definition_of, describe, recorded_container
from aardcheck.repair.recreate_steps import PodmanCalls, StepResult, run_step, step_change
from aardcheck.sources import discovery
from aardcheck.sources.podman_api import PodmanSession, connect

#: TEST-ONLY hook: ``N`` SIGKILLs this process right after step N took effect and before
#: the journal records it; ``Nj`` right after the journal recorded step N; ``0`` right
#: after the journal was first written. Makes the kill -9 tests deterministic. Never set
#: it outside tests.
CRASH_ENV = "AARDCHECK_TEST_CRASH_AFTER_STEP"
RESUME_SCHEMA = "aardcheck.resume/1"
#: Tries of a failing step before it counts as failed, and the pause between them.
STEP_TRIES = 3
STEP_RETRY_PAUSE = 0.5
#: How long ``--resume`` waits for a journal another aardcheck is working on.
RESUME_LOCK_TIMEOUT = 5.0


def _maybe_crash(step_no: int, *, journaled: bool) -> None:
    """TEST-ONLY (see ``CRASH_ENV``): simulate ``kill -9`` at a chosen point."""
    wanted = os.environ.get(CRASH_ENV, "")
    if wanted and wanted == f"{step_no}{'j' if journaled else ''}":
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


# --------------------------------------------------------------------------- driving


@dataclass(frozen=True, slots=True)
class _Context:
    podman: PodmanCalls
    path: Path


def _run_with_retries(ctx: _Context, j: Journal, step: Step) -> StepResult:
    """Steps are idempotent, so a failed one is simply tried again a few times: podman and
    netavark fail transiently (a listing while a netns vanishes, a missing aardvark.pid)."""
    done = StepResult(StepStatus.FAILED, "not run")
    for attempt in range(STEP_TRIES):
        if attempt:
            time.sleep(STEP_RETRY_PAUSE)
        try:
            done = run_step(ctx.podman, j, step)
        except EnvironmentUnavailable as err:  # podman went away: keep the journal
            done = StepResult(StepStatus.FAILED, str(err))
        if done.status is not StepStatus.FAILED:
            break
    return done


def _drive(ctx: _Context, j: Journal, changes: list[Change]) -> Journal:
    """Run every unfinished step in order, journaling each. Stops at a failure, except
    that a failed reconnect does not keep the other containers from reconnecting."""
    for index, step in enumerate(j.steps):
        if step.status.finished:
            continue
        done = _run_with_retries(ctx, j, step)
        _maybe_crash(index + 1, journaled=False)
        j = j.with_step(index, done.status, done.detail)
        jr.write_journal(ctx.path, j)
        _maybe_crash(index + 1, journaled=True)
        changes.append(step_change(j, step, done))
        if done.status is StepStatus.FAILED and step.kind is not StepKind.CONNECT:
            break
    return j


def _roll_back(ctx: _Context, j: Journal, why: str, changes: list[Change]) -> Journal:
    j = j.rolled_back()
    jr.write_journal(ctx.path, j)
    detail = f"rolling back ({why}): reconnecting every recorded container"
    changes.append(Change("rollback", j.network, j.network, "done", detail))
    return _drive(ctx, j, changes)


def _can_roll_back(ctx: _Context, j: Journal) -> bool:
    """Only before the network was removed, while the original still exists."""
    if j.complete or j.mode is Mode.ROLLBACK or j.step_finished(StepKind.REMOVE_NETWORK):
        return False
    live = ctx.podman.network(j.network)
    return live is not None and live.get("id") == j.original_id


@dataclass(frozen=True, slots=True)
class Settled:
    """How one journal ended: ``completed``, ``rolled-back``, ``incomplete``, ``busy``,
    ``unreadable`` or ``gone`` (finished by another aardcheck meanwhile)."""

    network: str
    journal: str
    outcome: str
    changes: tuple[Change, ...] = ()
    detail: str = ""


def _settle(ctx: _Context, j: Journal, changes: list[Change]) -> Settled:
    """Drive ``j`` to its end; roll back on a failure while the original network exists."""
    started = time.monotonic()
    try:
        j = _drive(ctx, j, changes)
        if _can_roll_back(ctx, j):
            failed = next((s.detail for s in j.steps if s.status is StepStatus.FAILED), "")
            j = _roll_back(ctx, j, failed or "a step failed", changes)
    except EnvironmentUnavailable as err:
        changes.append(Change("recreate-network", j.network, j.network, "failed", str(err)))
    took = time.monotonic() - started

    def summary(status: str, detail: str, before: str = "", after: str = "") -> None:
        changes.append(
            Change("recreate-network", j.network, j.network, status, detail, before, after)
        )

    if not j.complete:
        summary(
            "failed",
            f"incomplete; the journal {ctx.path} keeps everything recorded: "
            "fix the cause above, then run `aardcheck fix --resume`",
        )
        return Settled(j.network, str(ctx.path), "incomplete", tuple(changes))
    jr.remove_journal(ctx.path)
    if j.mode is Mode.ROLLBACK:
        summary(
            "failed",
            f"rolled back in {took:.2f} s: the network and its containers are "
            "as before, its file was not rebuilt; run the fix again",
        )
        return Settled(j.network, str(ctx.path), "rolled-back", tuple(changes))
    try:
        new_id = str((ctx.podman.network(j.network) or {}).get("id", "?"))
    except EnvironmentUnavailable:
        new_id = "?"
    summary(
        "done",
        f"re-created with {len(j.containers)} container(s) in {took:.2f} s; journal removed",
        f"id {j.original_id}",
        f"id {new_id}",
    )
    return Settled(j.network, str(ctx.path), "completed", tuple(changes))


# --------------------------------------------------------------------------- entry points


def _record(podman: PodmanCalls, action: RecreateNetwork, run_dir: RunDir, lock: Path) -> Journal:
    live = podman.network(action.network)
    if live is None:
        raise EnvironmentUnavailable(f"network {action.network} does not exist")
    definition = definition_of(live)
    containers = []
    for cid in podman.members(action.network):
        inspect = podman.inspect(cid)
        if inspect is not None:
            containers.append(recorded_container(inspect, action.network, definition))
    recorded = tuple(containers)
    return Journal(
        network=action.network,
        original_id=str(live.get("id", "")),
        definition=definition,
        containers=recorded,
        steps=jr.forward_steps(recorded),
        run_dir=str(run_dir.path),
        run_dir_owner=run_dir.uid,
        podman_lock=str(lock),
        reason=action.reason,
        started=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        pid=os.getpid(),
        api_url=podman.session.url,
    )


def recreate_network(session: PodmanSession, action: RecreateNetwork) -> list[Change]:
    """Re-create ``action.network`` identically; journaled so a crash can be resumed."""
    info = session.host_info(detailed=True)  # the lock path needs the graph root
    run_dir = discovery.run_dir_for(rootless=info.rootless, run_root=info.run_root, uid=info.uid)
    lock = podman_lock_path(
        rootless=info.rootless, podman_version=info.podman_version, graph_root=info.graph_root
    )
    directory = jr.ensure_state_dir(jr.state_dir())
    path = jr.journal_path(directory, action.network)
    podman = PodmanCalls(session)
    with jr.journal_lock(directory, action.network):
        if path.exists():
            return [
                Change(
                    "recreate-network",
                    action.network,
                    action.network,
                    "failed",
                    f"an interrupted re-create is pending ({path}): run "
                    "`aardcheck fix --resume` first",
                )
            ]
        try:
            journal = _record(podman, action, run_dir, lock)
        except EnvironmentUnavailable as err:
            return [Change("record", action.network, action.network, "failed", str(err))]
        jr.write_journal(path, journal)
        changes = [
            Change(
                "write-journal",
                action.network,
                str(path),
                "done",
                f"recorded the network and {len(journal.containers)} container(s) before any "
                "change: " + ", ".join(describe(c) for c in journal.containers),
            )
        ]
        _maybe_crash(0, journaled=False)
        return list(_settle(_Context(podman, path), journal, changes).changes)


def _journal_network(path: Path) -> str:
    return path.name.removeprefix(jr.JOURNAL_PREFIX).removesuffix(jr.JOURNAL_SUFFIX)


def _resume_one(podman: PodmanCalls, directory: Path, path: Path) -> Settled:
    network = _journal_network(path)
    try:
        with jr.journal_lock(directory, network, timeout=RESUME_LOCK_TIMEOUT):
            if not path.exists():
                return Settled(network, str(path), "gone", (), "finished by another aardcheck")
            j = jr.read_journal(path)
            if j.network != network:
                raise jr.JournalError(f"journal {path} is about network {j.network}")
            ctx = _Context(podman, path)
            changes: list[Change] = []
            if j.mode is Mode.FORWARD and not j.step_finished(StepKind.REMOVE_NETWORK):
                strangers = _strangers(podman, j)
                if strangers:
                    j = _roll_back(ctx, j, strangers, changes)
            return _settle(ctx, j, changes)
    except LockTimeout as err:
        return Settled(network, str(path), "busy", (), str(err))
    except jr.JournalError as err:
        return Settled(network, str(path), "unreadable", (), str(err))


def _strangers(podman: PodmanCalls, j: Journal) -> str:
    """Why completing would drop a container the journal does not know ("" if it would not)."""
    live = podman.network(j.network)
    if live is None or live.get("id") != j.original_id:
        return ""
    unknown = [m[:12] for m in podman.members(j.network) if j.container(m) is None]
    return f"container(s) {', '.join(unknown)} joined the network meanwhile" if unknown else ""


def resume_code(results: Sequence[Settled]) -> ExitCode:
    if any(r.outcome in ("incomplete", "unreadable", "rolled-back") for r in results):
        return ExitCode.REPAIR_INCOMPLETE
    if any(r.outcome == "busy" for r in results):
        return ExitCode.BUSY
    return ExitCode.CLEAN


def resume_journals(session: PodmanSession, directory: Path | None = None) -> list[Settled]:
    """Complete or roll back every unfinished re-create journal in ``directory``."""
    directory = directory or jr.state_dir()
    podman = PodmanCalls(session)
    return [_resume_one(podman, directory, p) for p in jr.pending_journals(directory)]


def resume_interrupted(*, url: str | None, output_json: bool) -> ExitCode:
    """``aardcheck fix --resume``: finish interrupted re-creates, print what was done."""
    if not jr.pending_journals(jr.state_dir()):
        results: list[Settled] = []
    else:
        with connect(url) as session:
            results = resume_journals(session)
    code = resume_code(results)
    sys.stdout.write(render_json(results, code) if output_json else render_text(results))
    return code


# --------------------------------------------------------------------------- rendering


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def render_text(results: Sequence[Settled]) -> str:
    if not results:
        return "nothing to resume: no interrupted re-create\n"
    out = []
    for r in results:
        out.append(f"network {r.network}: {r.outcome}" + (f" ({r.detail})" if r.detail else ""))
        out.extend(
            f"  {c.status:7} {c.action} {_one_line(c.target)}: {_one_line(c.detail)}"
            for c in r.changes
        )
    return "\n".join(out) + "\n"


def render_json(results: Sequence[Settled], code: ExitCode) -> str:
    doc = {
        "schema": RESUME_SCHEMA,
        "exit_code": int(code),
        "journals": [
            {
                "network": r.network,
                "journal": r.journal,
                "outcome": r.outcome,
                "detail": r.detail,
                "changes": [c.as_dict() for c in r.changes],
            }
            for r in results
        ],
    }
    return json.dumps(doc, indent=2) + "\n"
