"""Reading one aardvark file under a :class:`~aardcheck.format.grammar.Grammar`: the
header, every container line and the problems aardvark would stop at. Pure: no I/O.

The line netavark writes takes the fast path (``format.fastpath``); every other line
comes here, so every verdict and message is this module's. The rules themselves, per
aardvark generation, are described in ``format.grammar``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import ClassVar, cast

from aardcheck.format.fastpath import parse_v4, parse_v6, quick_entry
from aardcheck.format.grammar import Grammar, consequence, grammar_for, network_name
from aardcheck.models import AardvarkVersion, Entry, FileDefect, Header, IPAddress, NetworkFile

_CACHE_LIMIT = 262_144


# --------------------------------------------------------------------------- addresses
# inet_pton follows the same rules as Rust's FromStr (four decimal octets without leading
# zeros; IPv6 without zone id or brackets; ::ffff:a.b.c.d allowed) at a fraction of the
# cost of ipaddress' own parser. Header columns are memoised (and whole files, see
# ``_ScanCache``); the common container line never comes here (``format.fastpath``).

_v4 = parse_v4
_v6 = parse_v6


def _any_ip(text: str) -> IPAddress | None:
    address = _v4(text)
    return address if address is not None else _v6(text)


_PARSERS: dict[str, Callable[[str], IPAddress | None]] = {"IPv4": _v4, "IPv6": _v6, "IP": _any_ip}
_HINTS = (
    ("\t", "a tab"),
    ("\r", "a carriage return: CRLF line endings"),
    ("\ufeff", "a byte-order mark"),
    ("#", "'#' does not start a comment"),
    ("%", "a zone id is not allowed"),
    ("[", "brackets are not allowed"),
    (" ", "a space"),
)


def _show(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 72 else shown[:69] + "...'"


def _hint(item: str, family: str) -> str:
    """A short explanation of why ``item`` is not an address of ``family``."""
    for needle, why in _HINTS:
        if needle in item:
            return f" ({why})"
    if family == "IPv4" and _v6(item) is not None:
        return " (an IPv6 address in the IPv4 column)"
    if family == "IPv6" and _v4(item) is not None:
        return " (an IPv4 address in the IPv6 column)"
    if any(len(p) > 1 and p[0] == "0" and p.isdigit() for p in item.split(".")):
        return " (leading zeros are not allowed)"
    return ""


def _address_list(text: str, family: str, what: str) -> tuple[IPAddress, ...] | str:
    """Every comma-separated item of ``text`` parsed, or a description of the first bad one."""
    parse = _PARSERS[family]
    found: list[IPAddress] = []
    for item in text.split(","):
        address = parse(item)
        if address is None:
            if not text:
                return f"the {what} is empty (a trailing or doubled space)"
            if not item:
                return f"the {what} {_show(text)} has an empty item (stray or double comma)"
            return f"the {what} holds {_show(item)}, not a valid {family} address" + _hint(
                item, family
            )
        found.append(address)
    return tuple(found)


_COLUMNS: dict[tuple[str, str], tuple[IPAddress, ...] | str] = {}


def _column(text: str, family: str, what: str) -> tuple[IPAddress, ...] | str:
    """Memoised :func:`_address_list` (``what`` only names the column in a message)."""
    key = (text, what)
    cached = _COLUMNS.get(key)
    if cached is None:
        cached = _address_list(text, family, what)
        if len(_COLUMNS) >= _CACHE_LIMIT:
            _COLUMNS.clear()
        _COLUMNS[key] = cached
    return cached


# --------------------------------------------------------------------------- lines


def _parse_header(line: str, line_no: int, grammar: Grammar) -> Header | str:
    if grammar.header_dns:
        fields = line.split(" ")
        gateway_text = fields[0]
        dns_text = fields[1] if len(fields) > 1 else None
    elif " " in line:
        return (
            f"the header (line {line_no}) {_show(line)} has a space; aardvark "
            f"{grammar.version} expects only a comma list of gateways there (a second "
            "field for network DNS servers needs aardvark >= 1.4)"
        )
    else:
        gateway_text, dns_text = line, None
    gateways = _column(gateway_text, "IP", "gateway list")
    if isinstance(gateways, str):
        return f"header (line {line_no}): {gateways}"
    if dns_text is None:
        return Header(line_no, gateways)
    dns = _column(dns_text, "IP", "network DNS column")
    if isinstance(dns, str):
        return f"header (line {line_no}): {dns}"
    return Header(line_no, gateways, dns)


def _field_count_problem(count: int, grammar: Grammar) -> str | None:
    if count < 4:
        return (
            f"has {count} space-separated field{'s' if count != 1 else ''}; aardvark needs "
            "4 (id, IPv4 list, IPv6 list, names)"
        )
    if count > 4 and grammar.exactly_four_fields:
        return (
            f"has {count} space-separated fields; aardvark {grammar.version} accepts "
            "exactly 4 (a trailing space or DNS column needs aardvark >= 1.3)"
        )
    return None


def _address_column(text: str, family: str, grammar: Grammar) -> tuple[IPAddress, ...] | str:
    if not text:
        return ()
    if not grammar.address_lists and "," in text:
        return (
            f"the {family} column holds the list {_show(text)}; aardvark {grammar.version} "
            "accepts one address per line (lists need aardvark >= 1.2)"
        )
    return _address_list(text, family, f"{family} column")


def _parse_entry(line: str, line_no: int, grammar: Grammar) -> Entry | str:
    fields = line.split(" ")
    count = len(fields)
    if count != 4 and (count < 4 or grammar.exactly_four_fields):
        return _field_count_problem(count, grammar) or "has a bad field count"
    ipv4 = _address_column(fields[1], "IPv4", grammar)
    if isinstance(ipv4, str):
        return ipv4
    ipv6 = _address_column(fields[2], "IPv6", grammar)
    if isinstance(ipv6, str):
        return ipv6
    dns: tuple[IPAddress, ...] = ()
    if count == 5 and fields[4]:
        servers = _column(fields[4], "IP", "DNS server column (5th field)")
        if isinstance(servers, str):
            return servers
        dns = servers
    container_id, names = fields[0], fields[3]
    if grammar.lowercase:
        container_id, names = container_id.lower(), names.lower()
    return Entry(
        line_no,
        line,
        container_id,
        cast("tuple[IPv4Address, ...]", ipv4),
        cast("tuple[IPv6Address, ...]", ipv6),
        tuple(names.split(",")),
        dns,
    )


# --------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class _Scan:
    header: Header | None
    entries: tuple[Entry, ...]
    problems: tuple[FileDefect, ...]


def _decode(content: bytes) -> tuple[str, FileDefect | None]:
    """The text of ``content``; undecodable bytes survive as surrogates, with a defect."""
    try:
        return content.decode("utf-8"), None
    except UnicodeDecodeError as err:
        line_no = content.count(b"\n", 0, err.start) + 1
        problem = FileDefect(
            f"the file is not valid UTF-8 (byte {err.start}, line {line_no}); aardvark "
            "cannot read it at all",
            line_no,
        )
        return content.decode("utf-8", "surrogateescape"), problem


class _ScanCache:
    """The last scan of each file, by path and version, kept while its content is the
    same: the watcher re-reads every file at each change and most are unchanged. Only
    the current content of a path is kept, and at most ``limit`` bytes of it in all
    (oldest out first), so a long-running watcher does not collect old versions."""

    lock = threading.Lock()
    scans: ClassVar[dict[tuple[Path, AardvarkVersion], tuple[bytes, _Scan]]] = {}
    size: ClassVar[int] = 0
    limit: ClassVar[int] = 8 * 1024 * 1024

    @classmethod
    def get(cls, path: Path, content: bytes, version: AardvarkVersion) -> _Scan | None:
        kept = cls.scans.get((path, version))
        return kept[1] if kept is not None and kept[0] == content else None

    @classmethod
    def put(cls, path: Path, content: bytes, version: AardvarkVersion, scan: _Scan) -> None:
        with cls.lock:
            old = cls.scans.pop((path, version), None)
            cls.size -= len(old[0]) if old else 0
            cls.scans[(path, version)] = (content, scan)
            cls.size += len(content)
            while cls.size > cls.limit and cls.scans:
                oldest = next(iter(cls.scans))
                cls.size -= len(cls.scans.pop(oldest)[0])


def _scan(content: bytes, grammar: Grammar) -> _Scan:
    text, problem = _decode(content)
    problems = [problem] if problem else []
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        problems.append(
            FileDefect(
                "the file has no gateway line (it is empty or holds only empty lines); "
                "aardvark needs at least one listen address",
                None,
            )
        )
        return _Scan(None, (), tuple(problems))
    header = _parse_header(lines[first], first + 1, grammar)
    if isinstance(header, str):
        problems.append(FileDefect(header, first + 1))
    entries: list[Entry] = []
    append = entries.append  # the loop runs once per line: kept lean
    # A file already in lower case (netavark writes ids in hex, names as given) needs no
    # per-field folding: 20% of the fast path. Lower-casing it whole would change no
    # character, so folding each field would not either.
    lowercase = grammar.lowercase and text.lower() != text
    for line_no, line in enumerate(lines[first + 1 :], first + 2):
        if not line:
            continue
        entry = quick_entry(line, line_no, lowercase)
        if entry is None:
            parsed = _parse_entry(line, line_no, grammar)
            if isinstance(parsed, str):
                problems.append(FileDefect(f"line {line_no}{_lead(parsed)}", line_no))
                continue
            entry = parsed
        append(entry)
    return _Scan(None if isinstance(header, str) else header, tuple(entries), tuple(problems))


def _lead(problem: str) -> str:
    """Join 'line N' and a problem text that starts either with a verb or with 'the'."""
    return f" {problem}" if problem.startswith("has ") else f": {problem}"


def grammar_defects(content: bytes, version: AardvarkVersion) -> tuple[FileDefect, ...]:
    """Every problem in ``content`` under ``version``'s grammar, in file order.

    aardvark stops at the first one; the rest tell a user what else to fix. The reasons
    here say what is wrong only; :func:`parse_network_file` adds the consequence.
    """
    return _scan(content, grammar_for(version)).problems


def parse_network_file(path: Path, content: bytes, version: AardvarkVersion) -> NetworkFile:
    """Parse one network file as aardvark ``version`` would. Never raises.

    ``defect`` is the first problem aardvark would stop at, with its consequence; the
    lines that do parse are returned anyway so the checks can still reason about them.
    """
    scan = _ScanCache.get(path, content, version)
    if scan is None:
        scan = _scan(content, grammar_for(version))
        _ScanCache.put(path, content, version, scan)
    network, internal = network_name(path.name)
    defect = None
    if scan.problems:
        first = scan.problems[0]
        defect = FileDefect(f"{first.reason}. {consequence(version)}", first.line_no)
    return NetworkFile(
        path=path,
        network=network,
        internal=internal,
        content=content,
        header=scan.header,
        entries=scan.entries,
        defect=defect,
    )


__all__ = ["grammar_defects", "parse_network_file"]
