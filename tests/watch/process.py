"""``aardcheck watch`` as a real subprocess: its output lines, waits with deadlines, stop.

Reader threads put every stdout and stderr line into Recorders; tests wait on those with
a timeout (``Condition.wait_for``), never with bare sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from tests.realpodman import PodmanHost, aardcheck_env
from tests.realpodman.invoke import REPO_ROOT, python_for
from tests.watch.recorder import Recorder

READY_TIMEOUT = 150.0
STOP_TIMEOUT = 15.0


class WatchError(AssertionError):
    """The watcher did not say what a test waited for; carries its output so far."""


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (via /proc/PID/task/*/children)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        try:  # a process may end while it is walked (an agent, a restarted API service)
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError):
                children = [int(c) for c in (task / "children").read_text().split()]
                found.extend(children)
                todo.extend(children)
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


class WatchProcess:
    def __init__(self, host: PodmanHost, *args: str, env: Mapping[str, str] | None = None) -> None:
        extra = aardcheck_env(host, env)
        argv = [python_for(host), "-m", "aardcheck", "watch", *args]
        self.args = args
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            host.command(argv, extra),
            env=host.process_env(extra),
            cwd=str(REPO_ROOT) if not host.user else "/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stdout: Recorder[tuple[float, str]] = Recorder()
        self.stderr: Recorder[tuple[float, str]] = Recorder()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, into: Recorder[tuple[float, str]]) -> None:
        if stream is None:
            return
        for line in stream:
            into.add((time.monotonic(), line.rstrip("\n")))

    # ---- output ----------------------------------------------------------------------

    def output(self) -> str:
        err = "\n".join(line for _, line in self.stderr.items)
        out = "\n".join(line for _, line in self.stdout.items)
        return f"--- stderr of watch {' '.join(self.args)}\n{err}\n--- stdout\n{out}"

    def wait_stderr(self, pattern: str, timeout: float = 120.0, *, after: int = 0) -> str:
        """The first stderr line (from index ``after`` on) matching the regex."""
        rx = re.compile(pattern)
        found: list[str] = []

        def match(items: list[tuple[float, str]]) -> bool:
            found[:] = [line for _, line in items[after:] if rx.search(line)]
            return bool(found) or self.proc.poll() is not None

        self.stderr.wait_for(match, timeout)
        if not found:
            raise WatchError(f"no stderr line matching {pattern!r} in {timeout} s\n{self.output()}")
        return found[0]

    def wait_json(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 120.0
    ) -> tuple[float, dict[str, Any]]:
        """(arrival time, document) of the first stdout JSON line satisfying ``predicate``."""
        found: list[tuple[float, dict[str, Any]]] = []

        def match(items: list[tuple[float, str]]) -> bool:
            found[:] = [(at, doc) for at, doc in self.json_lines(items) if predicate(doc)]
            return bool(found) or self.proc.poll() is not None

        self.stdout.wait_for(match, timeout)
        if not found:
            raise WatchError(f"no JSON event as expected in {timeout} s\n{self.output()}")
        return found[0]

    @staticmethod
    def json_lines(items: list[tuple[float, str]]) -> list[tuple[float, dict[str, Any]]]:
        return [(at, json.loads(line)) for at, line in items if line.startswith("{")]

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> str:
        return self.wait_stderr(r"(aardcheck: |<\d>)ready: ", timeout)

    # ---- processes -------------------------------------------------------------------

    def watcher_pid(self) -> int:
        """The python process itself (below runuser for a rootless host)."""
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            argv = _cmdline(pid)
            if "aardcheck" in argv and "watch" in argv and "python" in Path(argv[0]).name:
                return pid
        return self.proc.pid

    def children(self) -> list[int]:
        """Processes the watcher started (e.g. a private podman API service)."""
        return _descendants(self.watcher_pid())

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[int, float, list[int]]:
        """Signal the watcher; returns (exit code, seconds to exit, children left alive)."""
        children = self.children()
        pid = self.watcher_pid()
        started = time.monotonic()
        os.kill(pid, sig)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired as err:
            self.kill()
            raise WatchError(
                f"watcher did not exit within {STOP_TIMEOUT} s\n{self.output()}"
            ) from err
        seconds = time.monotonic() - started
        for reader in self._readers:
            reader.join(5)
        left = [c for c in children if _alive(c)]
        return code, seconds, left

    def kill(self) -> None:
        """Make sure nothing is left running (cleanup after a failed test)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
