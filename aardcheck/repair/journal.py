"""The re-create journal: what a network was, and how far its re-creation got.

A re-create removes a network and builds it again. Between those two moments the
network's definition and its containers' aliases, addresses and MACs exist nowhere but
here, so the journal is written (atomically, fsynced) *before the first change* and again
after every step. ``aardcheck fix --resume`` reads it to finish or roll back a re-create
that was interrupted at any point, even by ``kill -9`` or a power cut.

Format (``schema`` ``aardcheck.recreate-journal/1``, one JSON object per network, in
``<state dir>/recreate-<NET>.json``)::

    {"schema": "aardcheck.recreate-journal/1",
     "network": "proj_default", "original_id": "<64 hex>", "mode": "forward",
     "reason": "...", "started": "2026-01-01T00:00:00Z", "pid": 123,
     "api_url": "unix:///run/podman/podman.sock",
     "run_dir": "/run/containers/networks", "run_dir_owner": 0,
     "podman_lock": "/etc/containers/networks/netavark.lock",
     "definition": {<libpod network JSON minus id and created>},
     "containers": [{"id": "<64 hex>", "name": "proj_web_1", "aliases": ["web"],
                     "static_ips": ["10.89.0.2"], "static_mac": "aa:..", "running": true,
                     "addresses_from": "live"}],
     "steps": [{"kind": "disconnect", "container": "<id>", "status": "done", "detail": ""},
               {"kind": "remove-network", ...}, {"kind": "delete-file", ...},
               {"kind": "create-network", ...}, {"kind": "connect", ...}]}

``mode`` is ``forward`` (complete the re-create) or ``rollback`` (reconnect every
container to the original network, which still exists). A step's ``status`` is
``pending``, ``done``, ``skipped`` (nothing to do, e.g. the container is gone) or
``failed``.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import os
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aardcheck.errors import AardcheckError, EnvironmentUnavailable
from aardcheck.repair.locks import LockTimeout
from aardcheck.repair.recorded import RecordedContainer

SCHEMA = "aardcheck.recreate-journal/1"
JOURNAL_PREFIX = "recreate-"
JOURNAL_SUFFIX = ".json"
#: Network names podman accepts (and so the only ones used in a file name).
NETWORK_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
#: Overrides the state directory (useful for tests and for unusual layouts).
STATE_DIR_ENV = "AARDCHECK_STATE_DIR"
MAX_JOURNAL_BYTES = 16 * 1024 * 1024


class JournalError(AardcheckError):
    """A journal that cannot be read, written or trusted."""


class StepKind(enum.StrEnum):
    DISCONNECT = "disconnect"
    REMOVE_NETWORK = "remove-network"
    DELETE_FILE = "delete-file"
    CREATE_NETWORK = "create-network"
    CONNECT = "connect"


class StepStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (StepStatus.DONE, StepStatus.SKIPPED)


class Mode(enum.StrEnum):
    FORWARD = "forward"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    container: str = ""
    status: StepStatus = StepStatus.PENDING
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Journal:
    network: str
    original_id: str
    definition: Mapping[str, Any]
    containers: tuple[RecordedContainer, ...]
    steps: tuple[Step, ...]
    run_dir: str
    podman_lock: str
    #: The uid owning ``run_dir`` when recorded; a repair refuses a run dir owned otherwise.
    run_dir_owner: int = 0
    mode: Mode = Mode.FORWARD
    reason: str = ""
    started: str = ""
    pid: int = 0
    api_url: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def container(self, container_id: str) -> RecordedContainer | None:
        return next((c for c in self.containers if c.id == container_id), None)

    def with_step(self, index: int, status: StepStatus, detail: str) -> Journal:
        steps = list(self.steps)
        steps[index] = replace(steps[index], status=status, detail=detail)
        return replace(self, steps=tuple(steps))

    def step_finished(self, kind: StepKind) -> bool:
        return any(s.kind is kind and s.status.finished for s in self.steps)

    @property
    def complete(self) -> bool:
        return all(s.status.finished for s in self.steps)

    def rolled_back(self) -> Journal:
        """The same journal, now meant to reconnect everyone to the original network."""
        steps = tuple(Step(StepKind.CONNECT, c.id) for c in self.containers)
        return replace(self, mode=Mode.ROLLBACK, steps=steps)


def forward_steps(containers: tuple[RecordedContainer, ...]) -> tuple[Step, ...]:
    """Every step of a re-create, in order. Each is idempotent (see ``recreate``)."""
    return (
        *(Step(StepKind.DISCONNECT, c.id) for c in containers),
        Step(StepKind.REMOVE_NETWORK),
        Step(StepKind.DELETE_FILE),
        Step(StepKind.CREATE_NETWORK),
        *(Step(StepKind.CONNECT, c.id) for c in containers),
    )


# --------------------------------------------------------------------------- (de)serialising

#: Keys this version writes; others found in a journal are kept as they are.
KNOWN_KEYS = frozenset({f.name for f in fields(Journal)} - {"extra"} | {"schema"})


def to_json(journal: Journal) -> dict[str, Any]:
    """The JSON document (plain lists and dicts) of ``journal``."""
    doc = {k: v for k, v in asdict(journal).items() if k != "extra"}
    plain: dict[str, Any] = json.loads(json.dumps(doc))
    return {**dict(journal.extra), **plain, "schema": SCHEMA}


def _strs(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise JournalError(f"journal: {what} is not a list of strings")
    return tuple(value)


def _str(doc: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = doc.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value):
        raise JournalError(f"journal: {key!r} missing or not a string")
    return value


def from_json(doc: object) -> Journal:
    """Parse and validate a journal document; raises JournalError with the reason."""
    if not isinstance(doc, dict):
        raise JournalError("journal: not a JSON object")
    if doc.get("schema") != SCHEMA:
        raise JournalError(f"journal: unknown schema {doc.get('schema')!r} (expected {SCHEMA})")
    definition = doc.get("definition")
    if not isinstance(definition, dict) or definition.get("name") != doc.get("network"):
        raise JournalError("journal: network definition missing or for another network")
    try:
        containers = tuple(
            RecordedContainer(
                id=_str(c, "id"),
                name=_str(c, "name", required=False),
                aliases=_strs(c.get("aliases", []), "aliases"),
                static_ips=_strs(c.get("static_ips", []), "static_ips"),
                static_mac=_str(c, "static_mac", required=False),
                running=bool(c.get("running", False)),
                addresses_from=_str(c, "addresses_from", required=False) or "live",
            )
            for c in doc.get("containers", [])
        )
        steps = tuple(
            Step(
                kind=StepKind(s["kind"]),
                container=_str(s, "container", required=False),
                status=StepStatus(s.get("status", "pending")),
                detail=_str(s, "detail", required=False),
            )
            for s in doc.get("steps", [])
        )
        mode = Mode(doc.get("mode", "forward"))
        pid = int(doc.get("pid") or 0)
        owner = int(doc.get("run_dir_owner") or 0)
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise JournalError(f"journal: malformed container or step: {err}") from err
    network = _str(doc, "network")
    if not NETWORK_NAME_RE.match(network):
        raise JournalError(f"journal: {network!r} is not a podman network name")
    return Journal(
        network=network,
        original_id=_str(doc, "original_id", required=False),
        definition=definition,
        containers=containers,
        steps=steps,
        run_dir=_str(doc, "run_dir"),
        podman_lock=_str(doc, "podman_lock"),
        run_dir_owner=owner,
        mode=mode,
        reason=_str(doc, "reason", required=False),
        started=_str(doc, "started", required=False),
        pid=pid,
        api_url=_str(doc, "api_url", required=False),
        extra={k: v for k, v in doc.items() if k not in KNOWN_KEYS},
    )


# --------------------------------------------------------------------------- the state dir


def state_dir() -> Path:
    """``$AARDCHECK_STATE_DIR``, else ``/var/lib/aardcheck`` for root, else
    ``$XDG_STATE_HOME/aardcheck`` or ``~/.local/state/aardcheck``."""
    if env := os.environ.get(STATE_DIR_ENV):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/aardcheck")
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "state"
    return base / "aardcheck"


def ensure_state_dir(path: Path) -> Path:
    """Create the directory (0700) and refuse one that is not ours or not a directory."""
    try:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700, parents=True)
        st = os.lstat(path)
    except OSError as err:
        raise EnvironmentUnavailable(f"state directory {path}: {err.strerror}") from err
    if not stat.S_ISDIR(st.st_mode):
        raise EnvironmentUnavailable(f"state directory {path} is not a directory")
    if st.st_uid != os.geteuid():
        raise EnvironmentUnavailable(f"state directory {path} belongs to uid {st.st_uid}")
    return path


def journal_path(directory: Path, network: str) -> Path:
    if not NETWORK_NAME_RE.match(network):
        raise JournalError(f"{network!r} is not a podman network name")
    return directory / f"{JOURNAL_PREFIX}{network}{JOURNAL_SUFFIX}"


def pending_journals(directory: Path) -> list[Path]:
    """Journals of re-creates that have not finished, oldest name first."""
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.name.startswith(JOURNAL_PREFIX) and p.name.endswith(JOURNAL_SUFFIX)
    )


# --------------------------------------------------------------------------- reading, writing


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_journal(path: Path, journal: Journal) -> None:
    """Atomically replace ``path``: temp file in the same directory, fsync, rename, fsync."""
    data = (json.dumps(to_json(journal), indent=1, sort_keys=True) + "\n").encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
        _fsync_dir(path.parent)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise JournalError(f"cannot write journal {path}: {err.strerror or err}") from err


def read_journal(path: Path) -> Journal:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as err:
        raise JournalError(f"cannot read journal {path}: {err.strerror}") from err
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_JOURNAL_BYTES + 1)
    if len(data) > MAX_JOURNAL_BYTES:
        raise JournalError(f"journal {path} is larger than any journal aardcheck writes")
    try:
        return from_json(json.loads(data))
    except ValueError as err:
        raise JournalError(f"journal {path} is not valid JSON: {err}") from err


def remove_journal(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    _fsync_dir(path.parent)


# --------------------------------------------------------------------------- the lock


@contextlib.contextmanager
def journal_lock(directory: Path, network: str, *, timeout: float = 30.0) -> Iterator[None]:
    """``flock`` on ``<state dir>/recreate-<NET>.lock``: one aardcheck per network journal.

    The lock file stays (an empty file): deleting a lock file others may wait on is racy.
    A holder killed with ``kill -9`` releases it with its last descriptor.
    """
    lock = journal_path(directory, network).with_suffix(".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as err:
        raise EnvironmentUnavailable(f"cannot open lock {lock}: {err.strerror}") from err
    try:
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another aardcheck is re-creating network {network} ({lock} stayed "
                        f"locked for {timeout:.0f} s); try again later"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        yield
    finally:
        os.close(fd)
