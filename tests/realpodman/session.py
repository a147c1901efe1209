"""One test session's identity: its name prefix, scratch directory and containers.conf.

Everything the harness creates (networks, containers, users, API sockets, foreign stores)
carries the session prefix ``aardtest-<6 hex>-``; cleanup finds it again by that prefix
alone, so a session killed half-way can be cleaned by the next one (see ``lifecycle``).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Every session prefix starts with this.
PREFIX_STEM = "aardtest-"
#: A session prefix: the stem, 6 hex digits, a dash.
PREFIX_RE = re.compile(r"^aardtest-[0-9a-f]{6}-$")
#: Where session scratch directories live (short: API socket paths must fit 108 bytes).
DEFAULT_BASE_DIR = Path("/tmp")
#: The image every harness container runs; shared by sessions, never removed.
IMAGE = "localhost/aardtest-bb:latest"

CONTAINERS_CONF_TEXT = """\
# Written by aardcheck's test harness for one test session; passed to podman
# through CONTAINERS_CONF. The host's own configuration is left alone.
[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
"""


def workdir_for(prefix: str, base_dir: Path = DEFAULT_BASE_DIR) -> Path:
    """The scratch directory of the session with this prefix."""
    return base_dir / f"{prefix}run"


@dataclass
class HarnessSession:
    """Names, scratch space and bookkeeping of one pytest session.

    Not a context manager on purpose: ``lifecycle.open_session`` owns the one instance
    of a process and guarantees its cleanup (fixture finalizer, atexit, SIGTERM).
    """

    prefix: str
    workdir: Path
    timings: list[tuple[str, float]] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _finalizers: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, base_dir: Path = DEFAULT_BASE_DIR) -> HarnessSession:
        """A new session with a fresh random prefix and its scratch directory."""
        for _ in range(20):
            prefix = f"{PREFIX_STEM}{secrets.token_hex(3)}-"
            workdir = workdir_for(prefix, base_dir)
            try:
                workdir.mkdir(mode=0o755)
            except FileExistsError:
                continue
            workdir.chmod(0o755)  # rootless users read the image tar and their conf here
            session = cls(prefix=prefix, workdir=workdir)
            session.ensure_containers_conf()
            session.write_owner()
            return session
        raise RuntimeError(f"could not make a unique session directory in {base_dir}")

    @classmethod
    def attach(cls, workdir: Path) -> HarnessSession:
        """The session owning an existing scratch directory (to clean up after it)."""
        prefix = workdir.name.removesuffix("run")
        if not PREFIX_RE.match(prefix):
            raise ValueError(f"not a harness session directory: {workdir}")
        return cls(prefix=prefix, workdir=workdir)

    @property
    def containers_conf(self) -> Path:
        """The session's containers.conf (runc, low ulimits); pass as CONTAINERS_CONF."""
        return self.workdir / "containers.conf"

    def ensure_containers_conf(self) -> Path:
        """Write the session's containers.conf unless it is there; returns its path."""
        if not self.containers_conf.exists():
            self.containers_conf.write_text(CONTAINERS_CONF_TEXT)
            self.containers_conf.chmod(0o644)
        return self.containers_conf

    @property
    def networks_dir(self) -> Path:
        """Saved rootful network definitions, to restore networks a recipe removed."""
        return self.workdir / "networks"

    def owns(self, name: str) -> bool:
        """Whether a network, container or user name belongs to this session."""
        return name.startswith(self.prefix)

    def qualify(self, name: str) -> str:
        """``name`` with the session prefix (unchanged when it already has it)."""
        return name if self.owns(name) else f"{self.prefix}{name}"

    def new_name(self, stem: str = "x") -> str:
        """A name unique in this session: prefix + stem + counter."""
        with self._lock:
            number = next(self._counter)
        return f"{self.prefix}{stem}{number}"

    def scratch_dir(self, stem: str) -> Path:
        """A new empty directory under the session's scratch directory."""
        path = self.workdir / self.new_name(stem).removeprefix(self.prefix)
        path.mkdir(mode=0o755)
        return path

    def record_timing(self, what: str, seconds: float) -> None:
        """Remember how long a recipe (or other step) took, for the end-of-run summary."""
        with self._lock:
            self.timings.append((what, seconds))

    def add_finalizer(self, finalizer: Callable[[], None]) -> None:
        """Run ``finalizer`` at session cleanup (last added runs first)."""
        with self._lock:
            self._finalizers.append(finalizer)

    def remove_finalizer(self, finalizer: Callable[[], None]) -> None:
        """Forget a finalizer that already ran."""
        with self._lock:
            if finalizer in self._finalizers:
                self._finalizers.remove(finalizer)

    def pop_finalizers(self) -> list[Callable[[], None]]:
        """Take all pending finalizers, last added first."""
        with self._lock:
            pending = list(reversed(self._finalizers))
            self._finalizers.clear()
        return pending

    def save_network_definition(self, name: str, definition: dict[str, object]) -> None:
        """Keep a rootful network's JSON definition (see ``cleanup``)."""
        self.networks_dir.mkdir(mode=0o700, exist_ok=True)
        (self.networks_dir / f"{name}.json").write_text(json.dumps(definition, indent=1))

    def saved_network_definitions(self) -> dict[str, dict[str, object]]:
        """Saved network definitions by network name."""
        saved: dict[str, dict[str, object]] = {}
        if self.networks_dir.is_dir():
            for path in sorted(self.networks_dir.glob("*.json")):
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    saved[path.stem] = loaded
        return saved

    def write_owner(self) -> None:
        """Mark the scratch directory as owned by this (live) process."""
        (self.workdir / "owner.json").write_text(
            json.dumps({"pid": os.getpid(), "start": process_start_ticks(os.getpid())})
        )

    def owner_alive(self) -> bool:
        """Whether the process that created this session still runs."""
        try:
            owner = json.loads((self.workdir / "owner.json").read_text())
            pid, start = int(owner["pid"]), owner["start"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return start is not None and process_start_ticks(pid) == int(start)


def process_start_ticks(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (None when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # field 2 (comm) may contain spaces and parentheses: split after its last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])
