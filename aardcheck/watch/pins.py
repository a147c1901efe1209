"""Which container network namespaces a process holds open, read from /proc.

podman 4.3's API service opens the netns file of every running container each time it
loads that container from its (boltdb) state, and keeps the fd until Go's garbage
collector finalises it, minutes later. A long-lived service therefore pins namespaces: a
plain ``umount`` of the netns file fails with EBUSY, and a namespace whose container is
gone lives on (with its veth until netavark deletes it). The watcher uses this to stop its
private service once a check is over (podman 5's sqlite state keeps only the path: no
fds, nothing to do).
"""

from __future__ import annotations

import os
import re

from aardcheck.sources.proc import read_proc


def _cmdline(pid: int) -> str:
    try:
        return read_proc(pid, "cmdline").replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (through /proc/PID/task/*/children)."""
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 10_000:  # bounded: a pid loop cannot happen, but be safe
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                text = read_proc(current, f"task/{task}/children").decode()
            except OSError:
                continue
            children = [int(c) for c in text.split()]
            found.extend(children)
            todo.extend(children)
    return found


def service_pid(socket_path: str) -> int | None:
    """The pid of our own ``podman system service`` listening at ``socket_path``."""
    for pid in descendants(os.getpid()):
        line = _cmdline(pid)
        if "system service" in line and socket_path in line:
            return pid
    return None


def held_namespaces(pid: int) -> list[str] | None:
    """The network namespace files ``pid`` holds fds on; None when that cannot be read
    (the caller then assumes the worst).

    An fd on a netns file whose bind mount is gone (the container removed, netavark's
    ``umount``) reads as ``/``: it is recognised by its file system, nsfs (the device of
    our own namespace files), and still pins the namespace."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    nsfs = _nsfs_device()
    held: list[str] = []
    for fd in fds:
        path = f"/proc/{pid}/fd/{fd}"
        try:
            target = os.readlink(path)
            if target.startswith("net:[") or "/netns/" in target:
                held.append(target)
            elif (
                nsfs is not None
                and not _NAMESPACE_LINK.match(target)
                and os.stat(path).st_dev == nsfs
            ):
                held.append(f"{target} (a namespace file whose mount is gone)")
        except OSError:
            continue  # closed meanwhile
    return held


#: How /proc shows an fd opened on a namespace itself (``mnt:[4026531841]``): podman's
#: own namespaces of other kinds, not a container's netns file.
_NAMESPACE_LINK = re.compile(r"^[a-z_]+:\[\d+\]$")


def _nsfs_device() -> int | None:
    try:
        return os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return None
