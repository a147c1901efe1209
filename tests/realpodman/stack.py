"""Which podman stack the harness drives: versions, and the behaviours that differ.

The suite runs on two real stacks (``scripts/test.sh``): the host's podman 4.3.1 with
netavark/aardvark-dns 1.4.0, and podman 5.4.2 with netavark/aardvark-dns 1.14.0 in the
lane of ``scripts/podman5-lane.sh``. A behaviour listed here was seen on those two;
versions between them are not claimed.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

NETAVARK = Path("/usr/lib/podman/netavark")
AARDVARK = Path("/usr/lib/podman/aardvark-dns")

Version = tuple[int, ...]


def _version_of(argv: list[str]) -> Version:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


@dataclass(frozen=True)
class Stack:
    podman: Version
    netavark: Version
    aardvark: Version

    @property
    def label(self) -> str:
        """``podman4`` or ``podman5``: names the lane in reports."""
        return f"podman{self.podman[0]}" if self.podman else "podman?"

    @property
    def vanished_netns_keeps_line(self) -> bool:
        """netavark 1.4 stops its teardown when the container's netns is gone, so the DNS
        line stays; netavark 1.14 logs the netns error and removes the line anyway."""
        return bool(self.netavark) and self.netavark < (1, 14)

    @property
    def teardown_rewrites_in_place(self) -> bool:
        """netavark 1.14's teardown truncates and rewrites the file (same inode)."""
        return self.netavark >= (1, 14)


@functools.cache
def current_stack() -> Stack:
    """The stack on this machine (or in this lane)."""
    return Stack(
        podman=_version_of(["podman", "--version"]),
        netavark=_version_of([str(NETAVARK), "--version"]),
        aardvark=_version_of([str(AARDVARK), "--version"]),
    )
