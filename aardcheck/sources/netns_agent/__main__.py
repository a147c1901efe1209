"""Send DNS questions and neighbour probes from inside network namespaces.

Run by ``netns.run_agent`` as ``python -I -S .../netns_agent`` (this directory, by path):
standard library only, so it starts in ~30 ms and runs with any interpreter, also under
``podman unshare``. The caller builds the DNS messages and parses the replies; the agent
only relays bytes. Run as a directory, the directory is the agent's whole import path:
its modules (``task``, ``dns_task``, ``neigh_task``) import each other by plain name, and
nothing of aardcheck or site-packages is importable.

For each task a short-lived thread calls ``setns(CLONE_NEWNET)`` and creates the task's
sockets; a socket stays in the namespace it was made in, so the main thread (which never
leaves its own namespace - inside a user namespace it could not come back) then serves
every task at once in one ``poll`` loop.

Job (stdin)::

    {"budget": 4.0, "tasks": [
      {"kind": "dns", "netns": PATH|null, "server": "10.89.0.1", "port": 53,
       "bind": "10.89.0.7"|null, "timeout": 1.0, "window": 32, "queries": [HEX, ...]},
      {"kind": "neigh", "netns": PATH|[PATH, ...]|null, "interface": "podman1",
       "addresses": ["10.89.0.5", "fd00::5"], "timeout": 1.5}]}

A ``neigh`` task takes the first namespace of its list that has the interface (a trailing
``*`` matches by prefix). Result (stdout), one entry per task, or ``{"error": ...}``::

    {"tasks": [{"error": null, "source": "10.89.0.7",
                "replies": [{"wire": HEX, "ms": 1.2} | {"error": "timeout", "ms": 1000.0}]},
               {"error": null, "netns": PATH,
                "addresses": {"10.89.0.5": {"lladdr": ["aa:bb:..."], "ms": 0.4} | null}}]}

Every wait ends at the job's budget; ``alarm()`` ends the process if anything still hangs.
"""

from __future__ import annotations

import json
import select
import signal
import sys
import threading
import time

from dns_task import DnsTask
from neigh_task import NeighTask
from task import NEVER, JobError, Task, os_reason

MAX_BUDGET = 60.0


KINDS: dict[object, type[Task]] = {"dns": DnsTask, "neigh": NeighTask}


def parse_job(job: object) -> tuple[float, list[Task]]:
    if not isinstance(job, dict) or not isinstance(job.get("tasks"), list):
        raise JobError("the job must be an object with a list of tasks")
    budget = job.get("budget")
    if not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0:
        raise JobError("budget must be a positive number of seconds")
    tasks = []
    for spec in job["tasks"]:
        kind = KINDS.get(spec.get("kind")) if isinstance(spec, dict) else None
        if kind is None:
            raise JobError(f"not a task: {spec!r:.80}")
        tasks.append(kind(spec))
    return min(float(budget), MAX_BUDGET), tasks


def open_all(tasks: list[Task], deadline: float) -> None:
    """Create every task's sockets inside its namespace, one short-lived thread per task."""

    def enter_and_open(task: Task) -> None:
        try:
            task.open()
        except OSError as exc:
            task.error = os_reason(exc, str(exc.filename or "socket"))
        except LookupError as exc:
            task.error = str(exc)

    threads = [threading.Thread(target=enter_and_open, args=(t,), daemon=True) for t in tasks]
    for thread in threads:
        thread.start()
    for task, thread in zip(tasks, threads, strict=True):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            task.error = "entering the namespace did not finish before the deadline"


def run_all(tasks: list[Task], deadline: float) -> None:
    """One poll loop for every socket of every task, until all are done or time is up."""
    live = [t for t in tasks if t.error is None]
    owners = {sock.fileno(): (task, sock) for task in live for sock in task.socks}
    poller = select.poll()
    for fd in owners:
        poller.register(fd, select.POLLIN)
    while True:
        now = time.monotonic()
        wake = min((t.step(now) for t in live), default=NEVER)
        if now >= deadline or all(t.finished(now) for t in live):
            return
        wait_ms = int((min(wake, deadline) - now) * 1000) + 1
        for fd, _event in poller.poll(max(0, min(wait_ms, 1000))):
            task, sock = owners[fd]
            for _ in range(256):  # drain, boundedly
                try:
                    data = sock.recv(4096)
                except ConnectionRefusedError:
                    task.refused()
                    continue
                except OSError:  # EAGAIN: drained
                    break
                task.receive(sock, data)


def main() -> int:
    started = time.monotonic()
    try:
        budget, tasks = parse_job(json.loads(sys.stdin.read()))
    except ValueError as exc:  # JobError, JSON errors
        json.dump({"error": f"bad job: {exc}"}, sys.stdout)
        return 2
    signal.alarm(int(budget) + 2)  # the last resort: SIGALRM ends the process
    try:
        open_all(tasks, started + budget)
        run_all(tasks, started + budget)
        json.dump({"tasks": [t.result() for t in tasks]}, sys.stdout)
    finally:
        for task in tasks:
            task.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
