"""The ``addnhosts`` grammar as dnsmasq reads it and dnsname writes and removes it.

dnsmasq reads a hosts file: fields split on blanks, ``#`` starts a comment, the first
field must be an IPv4/IPv6 address or the line is skipped ("bad address at FILE line N",
seen with dnsmasq 2.90; the rest of the file is served). dnsname's removal keeps a line
only when it has at least two fields and the second is not the removed container's name
(``files.go: removeFromFile``), so a line without a name silently disappears at the next
teardown. Pure: bytes in, ``HostsLine``s out.
"""

from __future__ import annotations

from ipaddress import ip_address

from aardcheck.dnsname.model import DnsmasqConf, HostsLine
from aardcheck.models import IPAddress

BAD_ADDRESS = "bad address: dnsmasq skips the line"
NO_NAME = "an address without a name: dnsmasq serves nothing for it"
NOT_UTF8 = "not UTF-8"


def _address(text: str) -> IPAddress | None:
    try:
        # dnsmasq accepts a scope-less address only; "%" zones and CIDR are bad addresses
        return ip_address(text)
    except ValueError:
        return None


def parse_line(line_no: int, raw: str) -> HostsLine | None:
    """One line (without its newline); None for blank and comment-only lines."""
    fields = raw.split("#", 1)[0].split()
    if not fields:
        return None
    address = _address(fields[0])
    name = fields[1] if len(fields) > 1 else ""
    defect = None
    if address is None:
        defect = BAD_ADDRESS
    elif not name:
        defect = NO_NAME
    return HostsLine(
        line_no=line_no,
        raw=raw,
        address=address,
        name=name,
        aliases=tuple(fields[2:]),
        defect=defect,
    )


def parse_hosts(content: bytes) -> tuple[HostsLine, ...]:
    """Every meaningful line of an ``addnhosts`` file, in order, 1-based numbers."""
    lines: list[HostsLine] = []
    for number, chunk in enumerate(content.split(b"\n"), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            text = chunk.decode("utf-8", "backslashreplace")
            lines.append(HostsLine(number, text, None, "", (), NOT_UTF8))
            continue
        parsed = parse_line(number, text.removesuffix("\r"))
        if parsed is not None:
            lines.append(parsed)
    return tuple(lines)


def parse_conf(text: str) -> DnsmasqConf:
    """The keys dnsname's template sets (``config.go: dnsMasqTemplate``); last one wins,
    as in dnsmasq for single-valued options."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        values[key.strip()] = value.strip()
    return DnsmasqConf(
        addn_hosts=values.get("addn-hosts", ""),
        pid_file=values.get("pid-file", ""),
        interface=values.get("interface", ""),
        domain=values.get("domain", ""),
    )


def render_without(content: bytes, drop_line_numbers: frozenset[int]) -> bytes:
    """``content`` with the given 1-based lines removed; every other byte kept."""
    chunks = content.split(b"\n")
    kept = [c for number, c in enumerate(chunks, start=1) if number not in drop_line_numbers]
    return b"\n".join(kept)
