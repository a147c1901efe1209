"""Getting into podman's network namespaces: which path to enter, and running the agent there.

Work that must happen inside a network namespace is done by the agent in ``netns_agent/``,
a standard-library-only program run by path in a child process (``python -I -S``, ~30
ms). One agent serves every namespace of one *entry*:

- direct: the agent runs as this process's user. Root can enter rootful namespaces and
  every rootless user's namespaces (those live in the user's user namespace, which root
  may enter);
- ``podman unshare``: a rootless user's own namespaces are only reachable from inside its
  user namespace, so the agent runs under ``podman unshare`` (~50 ms more), which honours
  ``CONTAINERS_CONF`` and ``XDG_RUNTIME_DIR`` from our environment.

Nothing here raises for a namespace that cannot be entered: every failure comes back as a
per-task ``{"error": reason}`` so that callers report it as data.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: The agent, a directory run by path: no package ``__init__`` is imported, no
#: site-packages, and the agent's own modules are all it can import besides the stdlib.
AGENT_PATH = Path(__file__).with_name("netns_agent")
#: Time allowed on top of a job's budget for starting the agent (podman unshare included).
START_ALLOWANCE = 5.0

TaskSpec = Mapping[str, object]
TaskResult = dict[str, object]


@dataclass(frozen=True, slots=True)
class Entry:
    """How the agent gets to a set of namespaces; ``refusal`` set means it cannot."""

    unshare: bool = False
    refusal: str = ""


def entry_for(rootless_uid: int | None) -> Entry:
    """The way in for namespaces of a rootful (None) or rootless (uid) podman."""
    euid = os.geteuid()
    if rootless_uid is None or euid in (0, rootless_uid):
        return Entry(unshare=rootless_uid is not None and euid != 0)
    return Entry(
        refusal=f"uid {euid} cannot enter the namespaces of rootless uid {rootless_uid}: "
        "run as root or as that user"
    )


def rootless_bridge_netns(rootless_uid: int) -> list[str]:
    """Candidate paths of the rootless network namespace (which holds the bridges).

    First the namespaces of the user's running ``aardvark-dns`` processes (aardvark runs
    in that namespace; works for root), then the namespace's bind mount, which podman
    4.x keeps at ``$XDG_RUNTIME_DIR/netns/rootless-netns-*`` (in the user's mount
    namespace: works under ``podman unshare``) and podman 5.x at
    ``$XDG_RUNTIME_DIR/containers/networks/rootless-netns/rootless-netns`` (beside its
    ``info.json`` and ``ref-count``). The agent takes the first that holds the interface.
    """
    found = [f"/proc/{pid}/ns/net" for pid in processes_named("aardvark-dns", rootless_uid)]
    runtime_dir = f"/run/user/{rootless_uid}"
    if os.geteuid() == rootless_uid:
        runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or runtime_dir
    found.append(f"{runtime_dir}/netns/rootless-netns-*")
    found.append(f"{runtime_dir}/containers/networks/rootless-netns/rootless-netns")
    return found


def processes_named(comm: str, uid: int) -> list[int]:
    """Pids of processes called ``comm`` owned by ``uid`` (oldest pid first)."""
    pids: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return pids
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == comm:
                    pids.append(int(entry))
        except OSError:
            continue
    return sorted(pids)


def agent_command(entry: Entry) -> list[str]:
    agent = [sys.executable, "-I", "-S", str(AGENT_PATH)]
    return ["podman", "unshare", *agent] if entry.unshare else agent


#: What a task of an agent that was stopped reports.
STOPPED = "stopped: nobody waits for the answers any more"


class Stopper:
    """Ends the agents of a run at once, from another thread: the watcher's check that
    stops waiting for a probe kills it, so that the next check's probe starts now, from
    its own listing, and no agent is left holding a container's namespace. Each agent
    leads a process group of its own, and the whole group is killed (an agent that
    ``podman unshare`` moves elsewhere still ends at its job's budget)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()
        self.stopped = threading.Event()

    def stop(self) -> None:
        with self._lock:
            self.stopped.set()
            for proc in self._running:
                _kill_group(proc)

    def started(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._running.add(proc)
            if self.stopped.is_set():
                _kill_group(proc)

    def ended(self, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._running.discard(proc)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.returncode is not None:
        return  # reaped: its pid may belong to another process by now
    with contextlib.suppress(OSError):  # gone meanwhile
        os.killpg(proc.pid, signal.SIGKILL)


def run_agent(
    entry: Entry,
    tasks: Sequence[TaskSpec],
    *,
    budget: float,
    stopper: Stopper | None = None,
) -> list[TaskResult]:
    """Run one agent for ``tasks``; one result per task, failures as ``{"error": ...}``
    (``STOPPED`` for each task when ``stopper`` ended it)."""
    if not tasks:
        return []
    if entry.refusal:
        return _all_failed(tasks, entry.refusal)
    if stopper is not None and stopper.stopped.is_set():
        return _all_failed(tasks, STOPPED)
    job = json.dumps({"budget": budget, "tasks": list(tasks)})
    argv = agent_command(entry)
    how = "podman unshare" if entry.unshare else "the namespace agent"
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=stopper is not None,
        )
    except OSError as exc:
        return _all_failed(tasks, f"cannot start {how}: {exc.strerror or exc}")
    if stopper is not None:
        stopper.started(proc)
    try:
        stdout, stderr = proc.communicate(job, timeout=budget + START_ALLOWANCE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return _all_failed(tasks, f"{how} did not finish within {budget + START_ALLOWANCE:.1f} s")
    finally:
        if stopper is not None:
            stopper.ended(proc)
    if stopper is not None and stopper.stopped.is_set():
        return _all_failed(tasks, STOPPED)
    done = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
    return _parse_reply(done, tasks, how)


def run_agents(
    jobs: Sequence[tuple[Entry, Sequence[TaskSpec]]],
    *,
    budget: float,
    stopper: Stopper | None = None,
) -> list[list[TaskResult]]:
    """Run several agents at once (one per entry); results in the order of ``jobs``."""
    results: list[list[TaskResult]] = [[] for _ in jobs]

    def run(index: int) -> None:
        entry, tasks = jobs[index]
        results[index] = run_agent(entry, tasks, budget=budget, stopper=stopper)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(jobs))]
    for thread in threads:
        thread.start()
    if jobs:
        run(0)
    for thread in threads:
        thread.join()  # each run_agent is bounded by its subprocess timeout
    return results


def _parse_reply(
    proc: subprocess.CompletedProcess[str], tasks: Sequence[TaskSpec], how: str
) -> list[TaskResult]:
    try:
        reply = json.loads(proc.stdout)
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(reply.get("error"), str):
        return _all_failed(tasks, f"{how} refused the job: {reply['error']}")
    results = reply.get("tasks") if isinstance(reply, dict) else None
    if (
        proc.returncode != 0
        or not isinstance(results, list)
        or len(results) != len(tasks)
        or not all(isinstance(r, dict) for r in results)
    ):
        stderr = " ".join(proc.stderr.split())[-300:]
        return _all_failed(tasks, f"{how} failed (exit {proc.returncode}): {stderr or 'no output'}")
    return [dict(r) for r in results]


def _all_failed(tasks: Sequence[TaskSpec], reason: str) -> list[TaskResult]:
    return [{"error": reason} for _ in tasks]
