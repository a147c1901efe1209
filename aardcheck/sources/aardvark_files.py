"""Read an ``aardvark-dns/`` directory the way aardvark sees it, without trusting it.

aardvark reads every entry of the directory except ``aardvark.pid``: dotfiles, temp
files, subdirectories and symlinks (which it follows) included. On <= 1.11 one entry it
cannot read (a subdirectory, a dangling symlink, a non-UTF-8 file) stops the daemon at
its next reload; >= 1.12 logs and skips such an entry, except a file whose *name* is not
UTF-8 and whose content parses, which still aborts the whole load (checked in v2.0.0).

This module never follows a symlink except to say what it points at (``O_NOFOLLOW``,
``lstat``), never blocks on a FIFO (``O_NONBLOCK``), and reads at most
``max_bytes`` + 1 bytes of any file. Everything it cannot use becomes an
:class:`UnreadableEntry` in the result; nothing here raises for the directory's content.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.format.fastpath import gc_paused
from aardcheck.format.grammar import consequence
from aardcheck.format.parse import parse_network_file
from aardcheck.models import (
    PID_FILE_NAME,
    AardvarkVersion,
    DnsDirectory,
    NetworkFile,
    RunDir,
    UnreadableEntry,
)

#: Larger files are refused: netavark writes about 150 bytes per container.
#: A full IPv4 /16 network (65534 containers at ~160 bytes a line) is about 10 MiB; parsing
#: 16 MiB takes well under a second and ~150 MB, 64 MiB took ~620 MB.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Where distributions install aardvark-dns (it is never on PATH).
AARDVARK_DIRS = (
    Path("/usr/lib/podman"),
    Path("/usr/libexec/podman"),
    Path("/usr/local/libexec/podman"),
    Path("/usr/local/lib/podman"),
)
_VERSION_TIMEOUT = 5.0
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: How often a file that changes while being read is read again before giving up.
_STABLE_READ_TRIES = 5


class UnreadableFile(EnvironmentUnavailable):
    """A single file named by the user could not be read safely."""


class _Refused(Exception):
    """Internal: why one directory entry cannot be used (``breaks``: aardvark fails too)."""

    def __init__(self, reason: str, breaks: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.breaks = breaks


# --------------------------------------------------------------------------- reading


def _read_bounded(fd: int, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes from ``fd`` (the extra byte detects oversize)."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _special_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a subdirectory"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device or other special file"


def _read_regular(name: str, dir_fd: int | None, max_bytes: int) -> bytes:
    """Content of the regular file ``name``; raises :class:`_Refused` for anything else."""
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise _Refused("vanished while being read (removed meanwhile, e.g. by netavark)") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise _Refused("is a symlink (not followed)") from None
        raise _Refused(f"cannot be opened: {err.strerror}", breaks=True) from None
    try:
        return _read_stable(fd, max_bytes)
    except OSError as err:
        raise _Refused(f"cannot be read: {err.strerror}", breaks=True) from None
    finally:
        os.close(fd)


def _signature(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _read_stable(fd: int, max_bytes: int) -> bytes:
    """The whole content, read again while the file changes under us (netavark rewrites
    files in place, without a lock): a read during which the file visibly changed (inode,
    size or times) is never returned."""
    for _ in range(_STABLE_READ_TRIES):
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(f"is {_special_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise _Refused(f"is {info.st_size} bytes, over the {max_bytes}-byte limit; not read")
        os.lseek(fd, 0, os.SEEK_SET)
        content = _read_bounded(fd, max_bytes)
        if len(content) > max_bytes:  # grew after fstat
            raise _Refused(f"is over the {max_bytes}-byte limit; not read")
        if len(content) == info.st_size and _signature(os.fstat(fd)) == _signature(info):
            return content
    raise _Refused(
        f"kept changing while being read ({_STABLE_READ_TRIES} tries); not checked, run again"
    )


def read_network_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of one network file named by the user (``aardcheck lint FILE``).

    Same safety rules as the directory reader; raises :class:`UnreadableFile`.
    """
    try:
        return _read_regular(os.fspath(path), None, max_bytes)
    except _Refused as refused:
        raise UnreadableFile(f"{path}: {refused.reason}") from None


# --------------------------------------------------------------------------- entries


def _symlink_entry(path: Path, dir_fd: int, name: str, version: AardvarkVersion) -> UnreadableEntry:
    """Describe a symlink without reading through it; say whether aardvark would fail."""
    try:
        target = os.readlink(name, dir_fd=dir_fd)
    except OSError:
        target = "?"
    fails = not version.skips_bad_files
    try:
        mode = os.stat(name, dir_fd=dir_fd).st_mode  # for the report only
    except FileNotFoundError:  # <= 1.11 fails on it; >= 1.12 ignores NotFound silently
        what, breaks = "a dangling symlink", fails
    except OSError as err:
        what, breaks = f"a symlink aardcheck cannot resolve ({err.strerror})", fails
    else:
        if stat.S_ISREG(mode):
            what, breaks = "a symlink to a regular file (its content is not checked)", False
        else:
            what = f"a symlink to {_special_kind(mode)}"
            breaks = fails or stat.S_ISFIFO(mode)
    reason = (
        f"{what} -> {target!r}; aardcheck does not follow symlinks, aardvark-dns does and "
        "reads the target as a network file"
    )
    return UnreadableEntry(path, _with_consequence(reason, breaks, version), breaks)


def _with_consequence(reason: str, breaks: bool, version: AardvarkVersion) -> str:
    return f"{reason}. {consequence(version)}" if breaks else reason


def _kind_entry(path: Path, mode: int, version: AardvarkVersion) -> UnreadableEntry:
    """A subdirectory, FIFO, socket or device in the directory."""
    kind = _special_kind(mode)
    if stat.S_ISFIFO(mode):  # read_to_string blocks on it, whatever the version
        reason = f"is {kind}: aardvark-dns would block forever reading it at its next reload"
        return UnreadableEntry(path, reason, True)
    breaks = not version.skips_bad_files
    reason = f"is {kind}; aardvark-dns tries to read it as a network file and fails"
    if not breaks:
        reason += f" (aardvark-dns {version} logs that and skips it)"
    return UnreadableEntry(path, _with_consequence(reason, breaks, version), breaks)


def _odd_name_entry(path: Path, parsed: NetworkFile, version: AardvarkVersion) -> UnreadableEntry:
    """A dotfile or a non-UTF-8 name: not a podman network, yet aardvark reads it."""
    defect = parsed.defect.reason if parsed.defect else ""
    if _utf8(path.name):
        reason = (
            "dotfile: not a podman network name (a leftover temp file?), yet aardvark-dns "
            f"reads it as network {path.name!r}"
        )
        breaks = bool(defect) and not version.skips_bad_files
        return UnreadableEntry(path, f"{reason}; {defect}" if defect else reason, breaks)
    if defect:  # the content already fails; the name is never looked at
        reason = f"file name is not valid UTF-8; {defect}"
        return UnreadableEntry(path, reason, not version.skips_bad_files)
    # aardvark checks the name after the content parsed; every version then aborts.
    if version.skips_bad_files:
        effect = (
            f"aardvark-dns {version} cannot start, and at a reload it keeps serving its "
            "previous configuration (later changes to any network are ignored)"
        )
    else:
        effect = (
            f"aardvark-dns {version} exits at its next start or reload (SIGHUP) and DNS "
            "stops for every network on the host"
        )
    reason = (
        "file name is not valid UTF-8: aardvark-dns cannot name the network and aborts "
        f"the whole configuration load; {effect}"
    )
    return UnreadableEntry(path, reason, True)


def _utf8(name: str) -> bool:
    try:
        os.fsencode(name).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse_pid(content: bytes) -> int | None:
    text = content.strip()
    if not text.isdigit() or len(text) > 10:
        return None
    pid = int(text)
    return pid if pid > 0 else None


# --------------------------------------------------------------------------- directory


def _entry(
    dns_dir: Path, dir_fd: int, name: str, version: AardvarkVersion, max_bytes: int
) -> NetworkFile | UnreadableEntry:
    path = dns_dir / name
    try:
        mode = os.lstat(name, dir_fd=dir_fd).st_mode
    except FileNotFoundError:
        return UnreadableEntry(path, "vanished while being read (removed meanwhile)")
    if stat.S_ISLNK(mode):
        return _symlink_entry(path, dir_fd, name, version)
    if not stat.S_ISREG(mode):
        return _kind_entry(path, mode, version)
    try:
        content = _read_regular(name, dir_fd, max_bytes)
    except _Refused as refused:
        breaks = refused.breaks and not version.skips_bad_files
        return UnreadableEntry(path, refused.reason, breaks)
    parsed = parse_network_file(path, content, version)
    if name.startswith(".") or not _utf8(name):
        return _odd_name_entry(path, parsed, version)
    return parsed


def _pid_of(dir_fd: int, unreadable: list[UnreadableEntry], dns_dir: Path) -> int | None:
    try:
        return _parse_pid(_read_regular(PID_FILE_NAME, dir_fd, 64))
    except _Refused as refused:
        if "vanished" not in refused.reason:
            unreadable.append(UnreadableEntry(dns_dir / PID_FILE_NAME, refused.reason))
        return None


def read_dns_directory(
    run_dir: RunDir,
    version: AardvarkVersion,
    max_bytes: int = MAX_FILE_BYTES,
    *,
    dir_fd: int | None = None,
) -> DnsDirectory:
    """Every entry of ``run_dir.dns_dir``, parsed with ``version``'s grammar, sorted by name.

    ``dir_fd``: that directory already opened (by a repair that pinned it); read through
    it rather than by path.
    """
    dns_dir = run_dir.dns_dir
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if dir_fd is not None:
            dir_fd = os.open(".", flags, dir_fd=dir_fd)
        else:
            dir_fd = os.open(dns_dir, flags)
    except FileNotFoundError:
        return DnsDirectory(run_dir, exists=False)
    except OSError as err:
        reason, exists = _why_no_directory(dns_dir, err)
        return DnsDirectory(run_dir, exists, unreadable=(UnreadableEntry(dns_dir, reason),))
    try:
        with gc_paused():
            return _read_open_directory(run_dir, dir_fd, version, max_bytes)
    finally:
        os.close(dir_fd)


def unreadable_directory(directory: DnsDirectory) -> str | None:
    """Why the directory as a whole could not be read (None: it was, or does not exist).

    Then nothing in it was checked: a command must not report the host as clean, nor
    a running container's line as missing.
    """
    for entry in directory.unreadable:
        if entry.path == directory.run_dir.dns_dir:
            return f"{entry.path}: {entry.reason}"
    return None


def _why_no_directory(dns_dir: Path, err: OSError) -> tuple[str, bool]:
    """Why ``dns_dir`` could not be opened, and whether something is there at all."""
    try:
        mode = dns_dir.lstat().st_mode
    except OSError:
        return f"directory cannot be opened: {err.strerror}", True
    if stat.S_ISLNK(mode):
        target = os.readlink(dns_dir)
        return f"directory is a symlink -> {target!r}; aardcheck does not follow it", True
    if not stat.S_ISDIR(mode):
        what = "a regular file" if stat.S_ISREG(mode) else _special_kind(mode)
        return f"is {what}, not a directory", False
    return f"directory cannot be opened: {err.strerror}", True


def _read_open_directory(
    run_dir: RunDir, dir_fd: int, version: AardvarkVersion, max_bytes: int
) -> DnsDirectory:
    dns_dir = run_dir.dns_dir
    files: list[NetworkFile] = []
    unreadable: list[UnreadableEntry] = []
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError as err:
        entry = UnreadableEntry(dns_dir, f"directory cannot be listed: {err.strerror}")
        return DnsDirectory(run_dir, exists=True, unreadable=(entry,))
    pid = None
    for name in names:
        if name == PID_FILE_NAME:
            pid = _pid_of(dir_fd, unreadable, dns_dir)
            continue
        found = _entry(dns_dir, dir_fd, name, version, max_bytes)
        if isinstance(found, NetworkFile):
            files.append(found)
        else:
            unreadable.append(found)
    return DnsDirectory(run_dir, True, tuple(files), tuple(unreadable), pid)


# --------------------------------------------------------------------------- version


def installed_aardvark_version(
    search_dirs: Sequence[Path] = AARDVARK_DIRS, timeout: float = _VERSION_TIMEOUT
) -> AardvarkVersion | None:
    """Version of the first ``aardvark-dns`` found in ``search_dirs``; None if none runs."""
    for directory in search_dirs:
        binary = directory / "aardvark-dns"
        if not os.access(binary, os.X_OK):
            continue
        try:
            done = subprocess.run(
                [os.fspath(binary), "--version"],
                capture_output=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        # stdout is "aardvark-dns 1.4.0"; stderr may say that syslog is missing.
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            try:
                return AardvarkVersion.parse(line)
            except ValueError:
                continue
    return None
