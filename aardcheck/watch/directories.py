"""watchdog observers on aardvark-dns directories, including ones that do not exist yet.

netavark deletes a network's file when its last container leaves, and the directory
itself may vanish (a reboot, a cleanup) and come back. Each directory is watched directly
when it exists, otherwise through its nearest existing parent; a change of either kind
only raises a flag, and the main loop re-arms the watch (``rearm``) before its next check.

The handler never does work itself: it maps a path to the network it concerns and passes
that to ``on_change`` (which records a request under the loop's Condition).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from aardcheck.format.grammar import network_name
from aardcheck.models import PID_FILE_NAME

#: Requests a check: networks involved (None: every network) and a reason for the log.
OnChange = Callable[[frozenset[str] | None, str], None]

#: Not opened / closed-without-writing: our own reads (and aardvark's) must not wake us.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
#: Bound on re-arming one directory while it keeps changing under us.
REARM_ATTEMPTS = 5


def guess_dirs(run_dir: Path | None) -> list[Path]:
    """Before podman has answered, only ``--run-dir`` is certain; the directory podman
    really uses is added after the first successful check (no check can run before)."""
    if run_dir is None:
        return []
    return [run_dir if run_dir.name == "aardvark-dns" else run_dir / "aardvark-dns"]


def nearest_existing(path: Path) -> Path:
    """``path`` if it is a directory, else its closest ancestor that is one."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path("/")


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def classify(dns_dir: Path, path: Path) -> tuple[frozenset[str] | None, bool] | None:
    """What an event at ``path`` means for ``dns_dir``: (networks, directory changed).

    None when it does not concern the directory (e.g. ``ipam.db`` beside it).
    """
    if path.parent == dns_dir:
        if path.name == PID_FILE_NAME:
            return None, False  # aardvark-dns (re)started: look at everything
        name, _internal = network_name(path.name)
        return frozenset({name}), False
    if path == dns_dir or dns_dir.is_relative_to(path):
        return None, True
    return None


@dataclass(slots=True)
class _Target:
    dns_dir: Path
    watched: Path | None = None
    inode: tuple[int, int] | None = None
    watch: Any = None  # watchdog's ObservedWatch (untyped)
    #: Set by the handler when the watched directory (or one above) changed: the inode
    #: number alone cannot tell, a re-created directory often gets the old one back.
    stale: bool = False


class _Handler(FileSystemEventHandler):
    def __init__(self, target: _Target, owner: DirectoryWatch) -> None:
        self._target = target
        self._owner = owner

    def dispatch(self, event: FileSystemEvent) -> None:
        if isinstance(event, DirModifiedEvent):
            return  # a directory's mtime: the event for the entry itself follows
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            if raw:
                self._owner._on_path(self._target, Path(os.fsdecode(raw)), event.event_type)


class DirectoryWatch:
    def __init__(self, on_change: OnChange, observer: Any = None) -> None:
        self._on_change = on_change
        self._observer = observer if observer is not None else Observer()
        self._targets: dict[Path, _Target] = {}
        self._rearm = threading.Event()
        self._lock = threading.Lock()
        self._started = False

    @property
    def needs_rearm(self) -> bool:
        return self._rearm.is_set()

    def watched(self) -> dict[Path, Path | None]:
        """Each directory and the path actually watched for it."""
        with self._lock:
            return {d: t.watched for d, t in self._targets.items()}

    def add(self, dns_dirs: Iterable[Path]) -> list[str]:
        """Watch these directories too (already watched ones are left alone)."""
        with self._lock:
            for d in dns_dirs:
                self._targets.setdefault(d, _Target(d))
        return self.rearm()

    def start(self) -> None:
        self._observer.start()
        self._started = True

    def stop(self) -> None:
        """Stop the observer and join its threads (emitters included)."""
        if self._started:
            self._observer.stop()
            self._observer.join(timeout=10)
            self._started = False

    def _on_path(self, target: _Target, path: Path, what: str) -> None:
        meaning = classify(target.dns_dir, path)
        if meaning is None:
            return
        networks, dir_changed = meaning
        if dir_changed:
            target.stale = True
            self._rearm.set()
            self._on_change(None, f"{path} {what}")
        else:
            self._on_change(networks, f"{path.name} {what}")

    def rearm(self) -> list[str]:
        """Point every watch at its directory or nearest existing parent; returns what
        changed, for the log. Called from the main loop, never from the handler."""
        self._rearm.clear()
        notes: list[str] = []
        with self._lock:
            for target in self._targets.values():
                for _ in range(REARM_ATTEMPTS):
                    want = nearest_existing(target.dns_dir)
                    inode = _inode(want)
                    current = (want, inode) == (target.watched, target.inode)
                    if target.watch is not None and current and not target.stale:
                        break
                    target.stale = False
                    self._schedule(target, want, inode)
                    notes.append(self._describe(target, want))
        return notes

    def _schedule(self, target: _Target, want: Path, inode: tuple[int, int] | None) -> None:
        if target.watch is not None:
            # KeyError: its emitter already stopped itself (the directory was deleted)
            with contextlib.suppress(KeyError, ValueError):
                self._observer.unschedule(target.watch)
            target.watch = None
        try:
            target.watch = self._observer.schedule(
                _Handler(target, self), str(want), recursive=False, event_filter=EVENT_FILTER
            )
        except OSError:
            target.watch = None  # vanished between the check and the call: next attempt
        target.watched, target.inode = want, inode

    @staticmethod
    def _describe(target: _Target, want: Path) -> str:
        if want == target.dns_dir:
            return f"watching {target.dns_dir}"
        return f"{target.dns_dir} does not exist; watching {want} for it to appear"
