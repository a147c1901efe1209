"""The grammar of aardvark-dns network files, for every aardvark generation. Pure: no I/O.

Verified against ``src/config/mod.rs`` of containers/aardvark-dns at v1.0.0, v1.0.1,
v1.0.3, v1.1.0, v1.2.0, v1.3.0, v1.4.0, v1.11.0, v1.12.0, v1.14.0 and v2.0.0 (== main),
and the writer ``src/dns/aardvark.rs`` of containers/netavark v1.0 .. v1.15; the verdicts
were checked against the real 1.4.0 and 1.14.0 binaries (``tests/oracle``). The per-file
reader (``parse_config``) is the same text from 1.4.0 to 1.14.0: only what happens
around it changed.

How aardvark reads one file (all versions unless noted):

* The whole file must be valid UTF-8 or it is refused before any line is looked at.
  A byte-order mark is kept as a character, so it spoils the first address.
* Lines are cut at ``\\n`` only. A line with no character at all is skipped; every
  other line counts, including one of spaces. Nothing is trimmed, nothing is a
  comment, a tab or ``\\r`` is an ordinary character (fatal only where it ends up in
  an address).
* The first counted line is the header. Up to 1.3 it is nothing but a comma list of
  listen addresses (IPv4 or IPv6), so any space in it is fatal. From 1.4 it is split
  on single spaces: the first field is that list, a second field (even an empty one,
  i.e. a trailing space) must be a comma list of upstream DNS servers, and a third or
  later field is ignored. A file with no counted line (empty, only ``\\n``) is refused:
  "no bind addresses". A file with only a header is accepted and serves no name.
* Every later line is a container: split on single spaces into id, IPv4 column, IPv6
  column, names, [DNS servers]. Up to 1.2 exactly four fields are required (so a
  trailing space is fatal); from 1.3 at least four: the fifth is read only when there
  are exactly five fields and it is non-empty; with six or more, everything after the
  names is ignored unchecked. An address column may be empty; up to 1.1 it holds one
  address, from 1.2 a comma list in which every item must parse (no empty item).
  An IPv6 address in the IPv4 column (or the reverse) is fatal. Names are split on
  commas and never validated: empty names, tabs or ``\\r`` in names are accepted.
* From 1.1 the id and the names are lower-cased on load; 1.0 keeps them as written.
* Addresses use Rust's strict parser: no leading zeros in IPv4 octets, no zone id
  (``%eth0``), no brackets; ``::ffff:a.b.c.d`` is a valid IPv6 address.
* The file name is the network name. netavark >= 1.11 writes internal networks as
  ``NAME%int``; aardvark >= 1.11 strips that suffix (and gives the network no upstream
  DNS). Older aardvark serves such a file as a network literally named ``NAME%int``.
  This module always strips the suffix: the podman network is ``NAME`` either way.

What one bad file does: aardvark <= 1.11 aborts the whole configuration load, so at its
next start or SIGHUP the daemon exits and DNS stops for every network on the host (1.4
exits with status 1; the message goes to its stdout, which is /dev/null). From 1.12
(``parse_configs`` in ``src/config/mod.rs`` v1.14.0) a file that cannot be read or
parsed is logged to syslog and left out, whatever the error: a bad line, non-UTF-8
content, a subdirectory (read error), a dangling symlink (not even logged). That
network then has no listener at all - a question to its gateway gets no answer, not
NXDOMAIN - and every other network keeps resolving. What still aborts the whole load on
1.12+ is a file whose content parses but whose name is not UTF-8: at start the daemon
never comes up, at a reload it keeps its previous configuration. From 1.12 the
directory is read and every gateway bound before ``aardvark-dns run`` returns
(``src/server/serve.rs``), so a start failure is the exit status of ``run`` itself; two
networks with one gateway address (only the first can bind it) are such a failure at
start and cost the second network its listener at a reload. See ``aardcheck.lint``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import ClassVar, cast

from aardcheck.aardvark_fastpath import make_entry, parse_v4, parse_v6, quick_entry
from aardcheck.models import (
    INTERNAL_SUFFIX,
    AardvarkVersion,
    Entry,
    FileDefect,
    Header,
    IPAddress,
    IPNetwork,
    NetworkFile,
)

_V1_1 = AardvarkVersion(1, 1)
_V1_2 = AardvarkVersion(1, 2)
_V1_3 = AardvarkVersion(1, 3)
_V1_4 = AardvarkVersion(1, 4)
_CACHE_LIMIT = 262_144


@dataclass(frozen=True, slots=True)
class Grammar:
    """The switches that differ between aardvark generations (see the module docstring)."""

    version: AardvarkVersion
    lowercase: bool  # >= 1.1: ids and names lower-cased on load
    address_lists: bool  # >= 1.2: comma lists in the address columns
    exactly_four_fields: bool  # < 1.3: container lines must have exactly 4 fields
    header_dns: bool  # >= 1.4: header may carry a network DNS column


@functools.cache
def grammar_for(version: AardvarkVersion) -> Grammar:
    return Grammar(
        version=version,
        lowercase=version >= _V1_1,
        address_lists=version >= _V1_2,
        exactly_four_fields=version < _V1_3,
        header_dns=version >= _V1_4,
    )


def consequence(version: AardvarkVersion) -> str:
    """What aardvark ``version`` does about a file it cannot parse, in plain words."""
    if version.skips_bad_files:
        return (
            f"aardvark-dns {version} skips this file at its next start or reload: no name "
            "of this network resolves (nothing listens on its gateway); the other networks "
            "keep resolving"
        )
    return (
        f"aardvark-dns {version} refuses the whole directory because of this file: at its "
        "next start or reload (SIGHUP) it exits and DNS stops for every network on the host"
    )


def network_name(file_name: str) -> tuple[str, bool]:
    """Network name and internal flag of a file name (``NAME%int`` is internal NAME)."""
    if file_name.endswith(INTERNAL_SUFFIX) and len(file_name) > len(INTERNAL_SUFFIX):
        return file_name[: -len(INTERNAL_SUFFIX)], True
    return file_name, False


# --------------------------------------------------------------------------- addresses
# inet_pton follows the same rules as Rust's FromStr (four decimal octets without leading
# zeros; IPv6 without zone id or brackets; ::ffff:a.b.c.d allowed) at a fraction of the
# cost of ipaddress' own parser. Header columns are memoised (and whole files, see
# ``_ScanCache``); the common container line never comes here (``aardvark_fastpath``).

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
    return make_entry(
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


# --------------------------------------------------------------------------- editing


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


def is_per_address_group(entries: Sequence[Entry], subnets: Sequence[IPNetwork] = ()) -> bool:
    """True when lines sharing one container id are netavark 1.0/1.1's one-line-per-address.

    That writer emits one line per (container, subnet): each line holds exactly one
    address, no DNS column, and the same names; the addresses differ and, given the
    network's ``subnets``, each lies in a different subnet. Anything else (a repeated
    address, a line with a list or a DNS column, different names) is a real duplicate.
    """
    if len(entries) < 2 or len({e.container_id.lower() for e in entries}) != 1:
        return False
    if any(len(e.addresses) != 1 or e.dns_servers for e in entries):
        return False
    if len({e.names for e in entries}) != 1:
        return False
    addresses = [e.addresses[0] for e in entries]
    if len(set(addresses)) != len(addresses):
        return False
    if not subnets:
        return True
    homes = [next((s for s in subnets if a in s), None) for a in addresses]
    return None not in homes and len(set(homes)) == len(homes)


__all__ = [
    "Grammar",
    "consequence",
    "grammar_defects",
    "grammar_for",
    "is_effectively_empty",
    "is_per_address_group",
    "network_name",
    "parse_network_file",
    "remove_entries",
]
