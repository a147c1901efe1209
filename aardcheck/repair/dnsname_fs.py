"""File operations of dnsname repairs, pinned to directory descriptors.

A rootless user owns its ``dnsname/`` tree; root repairing it must not be redirected by a
symlink swapped in between the check and the repair. Every directory on the way is
opened with ``O_NOFOLLOW`` from ``/`` down, and every later open, rename and unlink is
relative to the descriptor of the directory that was opened: a swapped component makes
the repair fail ("not a plain directory"), never act elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: Same bound as the aardvark reader: a larger addnhosts is not read.
MAX_BYTES = 16 * 1024 * 1024


class NotPlain(OSError):
    """A path component is a symlink or not a directory (or vanished)."""


def open_directory(path: Path) -> int:
    """A descriptor of ``path`` reached without following any symlink."""
    if not path.is_absolute():
        path = Path.cwd() / path
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in path.parts[1:]:
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    raise NotPlain(err.errno, f"{path}: not a plain directory ({part})") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_at(dir_fd: int, name: str, limit: int = MAX_BYTES) -> bytes:
    """A regular file's bytes (never through a symlink, at most ``limit``)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise NotPlain(errno.EINVAL, f"{name}: not a regular file under {limit} bytes")
        chunks, left = [], limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def replace_at(dir_fd: int, name: str, content: bytes) -> None:
    """Replace ``name`` atomically: a temp file beside it with its mode and owner, fsynced,
    renamed over it."""
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        raise NotPlain(errno.EINVAL, f"{name}: not a regular file")
    temp = f".{name}.aardcheck-{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, stat.S_IMODE(info.st_mode), dir_fd=dir_fd)
    try:
        os.write(fd, content)
        os.fchown(fd, info.st_uid, info.st_gid)
        os.fchmod(fd, stat.S_IMODE(info.st_mode))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    os.close(fd)
    os.rename(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def remove_tree_at(parent_fd: int, name: str) -> None:
    """``rm -r NAME`` below ``parent_fd``: never follows a symlink, and an entry vanishing
    meanwhile (dnsmasq removing its pidfile as it exits) is no error."""
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    try:
        for entry in list(os.scandir(fd)):
            with contextlib.suppress(FileNotFoundError):
                if entry.is_dir(follow_symlinks=False):
                    remove_tree_at(fd, entry.name)
                else:
                    os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(name, dir_fd=parent_fd)
