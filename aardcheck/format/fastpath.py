"""The parser's hot path: the container line netavark writes, built at a quarter of the cost.

``format.parse`` owns the grammar; this module only makes the common case cheap, and
hands anything unusual back. One directory of 1,000 files x 100 lines is 100,000 calls of
:func:`quick_entry`, so every step here counts (measured in ``docs/benchmarks.md``):

- the line that netavark writes - four fields, at most one address per column - is split
  once and built directly; any other line, or one whose address does not parse, returns
  None and goes through the general parser, so every verdict and message stays that
  parser's (``bench.parser`` compares both on the files it generates);
- an ``Entry`` (a NamedTuple) is made in one step from the tuple of its fields, as
  ``Entry._make`` does, without the length check: the tuple always holds all seven;
- an ``IPv4Address`` is made from ``inet_pton``'s bytes without re-checking a range that
  four bytes cannot exceed;
- :func:`gc_paused` keeps the cyclic garbage collector out of a directory read: the
  parse builds ~4 container objects per line, none in a reference cycle, yet the
  collector's passes over them cost as much as the parse itself.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

from aardcheck.models import Entry

_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_inet_pton = socket.inet_pton
_new = object.__new__
_tuple_new = tuple.__new__
_from_bytes = int.from_bytes


def parse_v4(text: str) -> IPv4Address | None:
    """``text`` as Rust's ``Ipv4Addr::from_str`` reads it (no leading zeros), else None."""
    try:
        packed = _inet_pton(_AF_INET, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL or a lone surrogate
        return None
    address = _new(IPv4Address)  # IPv4Address(int) would re-check 0 <= n < 2**32
    address._ip = int.from_bytes(packed)  # type: ignore[attr-defined]
    return address


def parse_v6(text: str) -> IPv6Address | None:
    """``text`` as Rust's ``Ipv6Addr::from_str`` reads it (no zone id, no brackets)."""
    try:
        return IPv6Address(int.from_bytes(_inet_pton(_AF_INET6, text)))
    except (OSError, ValueError):
        return None


def quick_entry(line: str, line_no: int, lowercase: bool) -> Entry | None:
    """The common well-formed container line as an Entry, or None: ask the grammar.

    ``lowercase``: fold the id and names to lower case (aardvark >= 1.1). Runs once per
    line of every file, so :func:`parse_v4` is inlined by hand.
    """
    try:
        container_id, v4_text, v6_text, names = line.split(" ")
    except ValueError:  # not four fields
        return None
    ipv4: tuple[IPv4Address, ...] = ()
    if v4_text:
        if "," in v4_text:
            return None
        try:
            packed = _inet_pton(_AF_INET, v4_text)
        except (OSError, ValueError):
            return None
        v4 = _new(IPv4Address)
        v4._ip = _from_bytes(packed)  # type: ignore[attr-defined]
        ipv4 = (v4,)
    ipv6: tuple[IPv6Address, ...] = ()
    if v6_text:
        v6 = None if "," in v6_text else parse_v6(v6_text)
        if v6 is None:
            return None
        ipv6 = (v6,)
    if lowercase:
        container_id, names = container_id.lower(), names.lower()
    return _tuple_new(Entry, (line_no, line, container_id, ipv4, ipv6, tuple(names.split(",")), ()))


class _GcPause:
    """How many threads are inside :func:`gc_paused`, and whether the collector was on."""

    lock = threading.Lock()
    depth = 0
    resume = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while files are parsed.

    Nested and concurrent uses are counted: the collector is switched back on (if it was
    on) when the last one leaves. Nothing is lost: objects that become cyclic garbage
    meanwhile are collected by the next collection after that.
    """
    with _GcPause.lock:
        if _GcPause.depth == 0:
            _GcPause.resume = gc.isenabled()
            gc.disable()
        _GcPause.depth += 1
    try:
        yield
    finally:
        with _GcPause.lock:
            _GcPause.depth -= 1
            if _GcPause.depth == 0:
                _promote_all()
                if _GcPause.resume:
                    gc.enable()


def _promote_all() -> None:
    """Move every tracked object to the oldest generation, in constant time.

    Re-enabled as it was, the collector would at once walk the whole young generation -
    every object the parse made, ~80 ms for 100,000 lines - and again when it ages into
    the middle one. ``freeze`` + ``unfreeze`` splice all generations into the oldest
    without walking them; they are examined at the next full collection, as old objects
    are. Skipped when someone else keeps objects frozen (unfreeze would release them).
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
