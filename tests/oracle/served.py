"""What a running aardvark-dns must answer, per aardcheck's own verdicts (the model the
oracle holds the real binary to).

Each network file the daemon reads is parsed with aardcheck's parser for the installed
version: a file without defect is served, one with a defect is skipped (on >= 1.12;
older releases do not serve at all then, which the oracle checks first). Symlinks are
followed as aardvark follows them; a subdirectory or a dangling link serves nothing.
The listener of a gateway answers an asker that is no container from the names of the
network it belongs to; when several networks claim one gateway only one gets it, and
which one is arbitrary, so each of them is a candidate.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path

from aardcheck.format.parse import parse_network_file
from aardcheck.models import AardvarkVersion, IPAddress, NetworkFile

_LABEL = re.compile(r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?")
Question = tuple[str, str]  # (name, "A" | "AAAA")
Table = dict[Question, frozenset[IPAddress]]


@dataclass
class Served:
    #: gateway -> {network: answers}: one of these networks' answers comes from it
    candidates: dict[IPAddress, dict[str, Table]] = field(default_factory=dict)
    #: gateways of skipped files that no served network holds: nothing answers there
    #: (with a name of that file to ask, None when none of its lines parsed)
    silent: dict[IPAddress, str | None] = field(default_factory=dict)
    #: every plain-label question a file of the directory holds (served or not)
    questions: set[Question] = field(default_factory=set)

    def answers(self, gateway: IPAddress, network: str) -> dict[Question, frozenset[IPAddress]]:
        """What ``gateway`` answers for each question if ``network`` holds it."""
        table = self.candidates[gateway][network]
        return {q: table.get(q, frozenset()) for q in sorted(self.questions)}


def _network_files(dns_dir: Path, version: AardvarkVersion) -> list[NetworkFile]:
    files = []
    for name in sorted(os.listdir(dns_dir)):
        path = dns_dir / name
        if name == "aardvark.pid" or not path.is_file():  # follows symlinks, as aardvark
            continue
        files.append(parse_network_file(path, path.read_bytes(), version))
    return files


def header_guess(content: bytes) -> list[IPAddress]:
    """Addresses in the first non-empty line, leniently: what aardvark would listen on if
    it took the file after all (so that a wrong "skipped" verdict shows up as an answer)."""
    text = content.decode("utf-8", "replace")
    first = next((line for line in text.split("\n") if line), "")
    found = []
    for item in first.split(" ")[0].split(","):
        with contextlib.suppress(ValueError):
            found.append(ip_address(item))
    return found


def _table(files: list[NetworkFile]) -> Table:
    table: dict[Question, set[IPAddress]] = {}
    for f in files:
        for entry in f.entries:
            for name in entry.names:
                if _LABEL.fullmatch(name):
                    table.setdefault((name, "A"), set()).update(entry.ipv4)
                    table.setdefault((name, "AAAA"), set()).update(entry.ipv6)
    return {q: frozenset(a) for q, a in table.items()}


def served(dns_dir: Path, version: AardvarkVersion) -> Served:
    files = _network_files(dns_dir, version)
    model = Served()
    model.questions = set(_table(files))
    networks: dict[str, list[NetworkFile]] = {}
    for f in files:
        if f.defect is None:
            key = f.network if version.merges_internal_files else f.path.name
            networks.setdefault(key, []).append(f)
    for network, members in networks.items():
        table = _table(members)
        for f in members:
            for gateway in f.header.gateways if f.header else ():
                model.candidates.setdefault(gateway, {})[network] = table
    for f in files:
        if f.defect is None:
            continue
        first = next((n for e in f.entries for n in e.names if _LABEL.fullmatch(n)), None)
        for gateway in header_guess(f.content):
            if gateway not in model.candidates:
                model.silent[gateway] = first
    return model


def every_gateway(dns_dir: Path) -> set[IPAddress]:
    """Addresses the daemon may try to bind (they must exist on the test interface)."""
    found: set[IPAddress] = set()
    for name in os.listdir(dns_dir):
        path = dns_dir / name
        if path.is_file():
            found.update(header_guess(path.read_bytes()))
    return found
