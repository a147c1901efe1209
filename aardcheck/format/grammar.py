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
  :func:`network_name` always strips the suffix: the podman network is ``NAME``
  either way.

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
start and cost the second network its listener at a reload. See ``aardcheck.format.lint``.

Reading a file by these rules is ``format.parse``; editing one byte for byte is
``format.edit``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from aardcheck.models import INTERNAL_SUFFIX, AardvarkVersion, Entry, IPNetwork

_V1_1 = AardvarkVersion(1, 1)
_V1_2 = AardvarkVersion(1, 2)
_V1_3 = AardvarkVersion(1, 3)
_V1_4 = AardvarkVersion(1, 4)


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
    "grammar_for",
    "is_per_address_group",
    "network_name",
]
