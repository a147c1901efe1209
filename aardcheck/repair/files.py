"""Rewriting an aardvark file the way a crash can never half-do.

The new content goes to a temp file in the run directory - never inside ``aardvark-dns/``,
which aardvark parses entry by entry, temp files included - with the old file's mode and
owner, is fsynced, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from aardcheck.errors import AardcheckError

#: Bigger than any real network file; a larger one is refused rather than read whole.
MAX_FILE_BYTES = 64 * 1024 * 1024


class UnsafeFile(AardcheckError):
    """The target is not a plain file we may rewrite (symlink, directory, vanished...)."""


@dataclass(frozen=True, slots=True)
class FileState:
    content: bytes
    mode: int
    uid: int
    gid: int


def read_regular(path: Path) -> FileState:
    """Read a plain file without following a symlink; refuse anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as err:
        raise UnsafeFile(f"{path}: {err.strerror}") from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFile(f"{path}: not a regular file; left alone")
        if st.st_size > MAX_FILE_BYTES:
            raise UnsafeFile(f"{path}: {st.st_size} bytes, larger than any real network file")
        chunks = []
        remaining = MAX_FILE_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return FileState(b"".join(chunks), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_content(target: Path, staging_dir: Path, old: FileState, content: bytes) -> None:
    """Atomically give ``target`` new content, keeping its mode and owner."""
    tmp = staging_dir / f".aardcheck-{os.getpid()}-{target.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, old.mode)
            if os.geteuid() == 0:
                os.fchown(fd, old.uid, old.gid)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def delete_file(target: Path) -> None:
    """Remove a plain file (never a directory or what a symlink points at)."""
    st = os.lstat(target)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(f"{target}: not a regular file; left alone")
    os.unlink(target)
    _fsync_dir(target.parent)
