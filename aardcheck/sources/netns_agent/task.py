"""What every task of the agent shares: reading its spec, entering a namespace, and the
``Task`` base class that ``dns_task`` and ``neigh_task`` fill in. Standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket

CLONE_NEWNET = 0x40000000
NEVER = float("inf")

_LIBC = ctypes.CDLL(None, use_errno=True)


class JobError(ValueError):
    """The job is not what this agent understands."""


def os_reason(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENOENT:
        return f"{what}: no such file (the namespace vanished)"
    if exc.errno in (errno.EPERM, errno.EACCES):
        return f"{what}: permission denied"
    if exc.errno == errno.EINVAL:
        return f"{what}: not a network namespace (gone, or mounted in another mount namespace)"
    return f"{what}: {exc.strerror or exc}"


def enter_netns(path: str) -> None:
    """Move the calling thread into the network namespace at ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
    finally:
        os.close(fd)


def spec_text(spec: dict[str, object], key: str, default: object = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value:
        raise JobError(f"{spec.get('kind')} task: {key!r} must be a non-empty string")
    return value


def spec_texts(spec: dict[str, object], key: str) -> list[str]:
    value = spec.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise JobError(f"{spec.get('kind')} task: {key!r} must be a list of non-empty strings")
    return [str(v) for v in value]


def spec_number(
    spec: dict[str, object], key: str, default: float, low: float, high: float
) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise JobError(f"{spec.get('kind')} task: {key!r} must be a number in [{low}, {high}]")
    return float(value)


class Task:
    """One unit of work in one namespace; subclasses say what is sent and heard."""

    def __init__(self, spec: dict[str, object]) -> None:
        self.timeout = spec_number(spec, "timeout", 1.0, 0.001, 30)
        self.error: str | None = None
        self.socks: list[socket.socket] = []

    def open(self) -> None:
        """Runs in its own thread: enter the namespace, create the sockets."""
        raise NotImplementedError

    def step(self, now: float) -> float:
        """Send what is due; return when this task next needs to act."""
        raise NotImplementedError

    def finished(self, now: float) -> bool:
        raise NotImplementedError

    def receive(self, sock: socket.socket, data: bytes) -> None:
        raise NotImplementedError

    def refused(self) -> None:
        """The peer reported (ICMP) that nothing listens; the tries will time out."""

    def result(self) -> dict[str, object]:
        raise NotImplementedError

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
