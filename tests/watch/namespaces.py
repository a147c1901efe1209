"""What a watcher's processes hold of container network namespaces, read from /proc.

Independent of aardcheck's own bookkeeping: every fd of the watcher and its descendants
(a private API service, a probe agent) is stat'ed and compared with the namespaces'
(device, inode); every mount in their mount namespaces is compared with the netns paths.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterable
from pathlib import Path

from tests.watch.process import _descendants

NamespaceId = tuple[int, int]


def watcher_pids(pid: int) -> list[int]:
    """The watcher and every process below it."""
    return [pid, *_descendants(pid)]


def namespace_references(
    pids: Iterable[int], namespaces: Collection[NamespaceId], paths: Collection[str]
) -> list[str]:
    """``pid fd N -> target`` / ``pid mount PATH`` for each reference to ``namespaces``
    (by identity) or ``paths`` (netns files); empty when none is held."""
    wanted_paths = {p for p in paths if p}
    refs: list[str] = []
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    st = os.stat(fd)
                    if (st.st_dev, st.st_ino) in namespaces or target in wanted_paths:
                        refs.append(f"{pid} fd {fd.name} -> {target}")
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
                fields = line.split()
                if len(fields) > 4 and fields[4] in wanted_paths:
                    refs.append(f"{pid} mount {fields[4]}")
    return refs
