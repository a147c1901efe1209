"""Editing an aardvark file for a repair, byte for byte: drop container lines, and tell
when none is left. Pure: bytes in, bytes out.
"""

from __future__ import annotations

from collections.abc import Iterable


def _segments(content: bytes) -> list[bytes]:
    """``content`` cut into lines that keep their ``\\n`` (the last one may lack it)."""
    parts = content.split(b"\n")
    segments = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        segments.append(parts[-1])
    return segments


def _first_field(segment: bytes) -> str:
    return segment.rstrip(b"\n").split(b" ", 1)[0].decode("utf-8", "surrogateescape")


def remove_entries(content: bytes, container_ids: Iterable[str]) -> bytes:
    """``content`` without the container lines whose first field is one of the ids.

    Ids compare case-insensitively (as aardvark >= 1.1 does). A dropped line takes its
    own ``\\n`` with it; every other byte (header, empty lines, unknown columns, order, a
    missing final newline) is kept. Unlike netavark's teardown (a substring match),
    a line that merely *mentions* an id elsewhere is left alone.
    """
    wanted = {cid.lower() for cid in container_ids if cid}
    if not wanted:
        return content
    kept: list[bytes] = []
    seen_header = False
    for segment in _segments(content):
        if segment == b"\n":
            kept.append(segment)
        elif not seen_header:  # the header is never a container line
            seen_header = True
            kept.append(segment)
        elif _first_field(segment).lower() not in wanted:
            kept.append(segment)
    return b"".join(kept)


def is_effectively_empty(content: bytes) -> bool:
    """True when no container line is left (only a header, or nothing at all).

    A repair deletes such a file, as netavark does when the last container leaves.
    A line of spaces still counts as a line: what is not understood is not deleted.
    """
    counted = [segment for segment in _segments(content) if segment != b"\n"]
    return len(counted) <= 1


__all__ = ["is_effectively_empty", "remove_entries"]
