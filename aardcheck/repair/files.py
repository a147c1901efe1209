"""Rewriting an aardvark file the way a crash can never half-do.

The new content goes to a temp file in the run directory - never inside ``aardvark-dns/``,
which aardvark parses entry by entry, temp files included - with the old file's mode and
owner, is fsynced, then renamed over the target.

A repair acts through :class:`PinnedRunDir`: the run directory and its ``aardvark-dns/``
are opened once, without following a symlink, and must still belong to the owner the
check saw; every later open, rename and unlink is relative to those descriptors. A user
who owns a rootless run directory cannot redirect root's writes or deletes elsewhere by
swapping a directory for a symlink while a repair runs.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from aardcheck.errors import AardcheckError

#: Bigger than any real network file; a larger one is refused rather than read whole.
#: A full IPv4 /16 network (65534 containers at ~160 bytes a line) is about 10 MiB; parsing
#: 16 MiB takes well under a second and ~150 MB, 64 MiB took ~620 MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class UnsafeFile(AardcheckError):
    """The target is not a plain file we may rewrite (symlink, directory, vanished...)."""


@dataclass(frozen=True, slots=True)
class FileState:
    content: bytes
    mode: int
    uid: int
    gid: int
    #: (st_dev, st_ino) of what was read: a rename must replace exactly that file.
    identity: tuple[int, int] = (0, 0)


def _signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_fd(fd: int, where: str) -> FileState:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(f"{where}: not a regular file; left alone")
    if st.st_size > MAX_FILE_BYTES:
        raise UnsafeFile(f"{where}: {st.st_size} bytes, larger than any real network file")
    chunks = []
    remaining = MAX_FILE_BYTES + 1
    while remaining > 0:
        chunk = os.pread(fd, min(remaining, 1 << 20), MAX_FILE_BYTES + 1 - remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    content = b"".join(chunks)
    # Under the locks nothing should write; a writer that ignores them (or a file rewritten
    # in place while we read) would leave a torn copy: refuse instead of acting on it.
    if _signature(os.fstat(fd)) != _signature(st) or len(content) != st.st_size:
        raise UnsafeFile(f"{where}: changed while being read; left alone (run again)")
    return FileState(
        content, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, (st.st_dev, st.st_ino)
    )


def read_regular(path: Path) -> FileState:
    """Read a plain file without following a symlink; refuse anything else."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as err:
        raise UnsafeFile(f"{path}: {err.strerror}") from err
    try:
        return _read_fd(fd, str(path))
    finally:
        os.close(fd)


def _fsync_dir(path: Path | int) -> None:
    fd = (
        os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if isinstance(path, Path)
        else path
    )
    try:
        os.fsync(fd)
    finally:
        if isinstance(path, Path):
            os.close(fd)


def _write_temp(fd: int, old: FileState, content: bytes) -> None:
    os.fchmod(fd, old.mode)
    if os.geteuid() == 0:
        os.fchown(fd, old.uid, old.gid)
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def replace_content(target: Path, staging_dir: Path, old: FileState, content: bytes) -> None:
    """Atomically give ``target`` new content, keeping its mode and owner."""
    tmp = staging_dir / f".aardcheck-{os.getpid()}-{target.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            _write_temp(fd, old, content)
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


# --------------------------------------------------------------------------- pinned


def _open_dir(name: str | Path, where: str, owner: int, dir_fd: int | None = None) -> int:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as err:
        why = "is a symlink (not followed)" if err.errno == 40 else err.strerror
        raise UnsafeFile(f"{where}: {why}; nothing changed") from err
    found = os.fstat(fd).st_uid
    if found != owner:
        os.close(fd)
        raise UnsafeFile(
            f"{where} now belongs to uid {found}, not uid {owner} as when it was checked "
            "(replaced meanwhile?); nothing changed"
        )
    return fd


class PinnedRunDir:
    """A run directory and its ``aardvark-dns/``, open for a repair (see the module doc).

    ``owner`` is the uid the check saw owning the run directory; both directories must
    still belong to it. Entry names are plain names in ``aardvark-dns/``.
    """

    def __init__(self, run_dir: Path, owner: int) -> None:
        self.dns_path = run_dir / "aardvark-dns"
        self.run_fd = _open_dir(run_dir, str(run_dir), owner)
        try:
            self.dns_fd = _open_dir("aardvark-dns", str(self.dns_path), owner, self.run_fd)
        except BaseException:
            os.close(self.run_fd)
            raise

    def __enter__(self) -> PinnedRunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in (self.dns_fd, self.run_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def name_of(self, path: Path) -> str:
        """The entry name of ``path``; refuses a path outside ``aardvark-dns/``."""
        if path.parent != self.dns_path or path.name in ("", ".", ".."):
            raise UnsafeFile(f"{path}: not an entry of {self.dns_path}; left alone")
        return path.name

    def read(self, name: str) -> FileState:
        """A regular file of ``aardvark-dns/`` (no symlink, FIFO, directory, torn read)."""
        where = str(self.dns_path / name)
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=self.dns_fd)
        except OSError as err:
            why = "is a symlink (not followed)" if err.errno == 40 else err.strerror
            raise UnsafeFile(f"{where}: {why}; left alone") from err
        try:
            return _read_fd(fd, where)
        finally:
            os.close(fd)

    def _same_file(self, name: str, old: FileState) -> None:
        try:
            st = os.lstat(name, dir_fd=self.dns_fd)
        except FileNotFoundError:
            raise UnsafeFile(f"{self.dns_path / name}: removed meanwhile; left alone") from None
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != old.identity:
            raise UnsafeFile(f"{self.dns_path / name}: replaced meanwhile; left alone")

    def replace(self, name: str, old: FileState, content: bytes) -> None:
        """Give ``name`` new content atomically, with ``old``'s mode and owner."""
        tmp = f".aardcheck-{os.getpid()}-{name}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=self.run_fd)
        try:
            try:
                _write_temp(fd, old, content)
            finally:
                os.close(fd)
            self._same_file(name, old)
            os.rename(tmp, name, src_dir_fd=self.run_fd, dst_dir_fd=self.dns_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=self.run_fd)
            raise
        _fsync_dir(self.dns_fd)

    def delete(self, name: str, old: FileState) -> None:
        """Remove ``name`` if it is still the regular file that was read as ``old``."""
        self._same_file(name, old)
        os.unlink(name, dir_fd=self.dns_fd)
        _fsync_dir(self.dns_fd)
