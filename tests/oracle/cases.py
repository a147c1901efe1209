"""Load ``fixtures/aardvark/<case>/``: the ``aardvark-dns/`` directory and ``expected.json``.

``expected.json`` (hand-reviewed; see ``fixtures/aardvark/README.md``)::

    files.<file>.verdict     {"1.0": "ok" | LINE | "file", ... "1.4": ...}
                             "1.4" stands for every later release (same grammar to 2.0)
    files.<file>.header      under the 1.4 grammar (null when the header is defective)
    files.<file>.entries     under the 1.4 grammar; "entries_1.0" when 1.0 differs
    unreadable.<name>        {"1.4": breaks_aardvark, "1.12": breaks_aardvark}
    gateway_clash            {"1.4": [file, ...], "1.11": [...]}: the files lint reports for
                             repeating another network's gateway, from that release on (1.4
                             up to the next label); 1.12+ cannot start with such a directory
    aardvark_pid             what aardvark.pid should parse to
    per_address_groups       [[file, id-key], ...] netavark 1.0/1.1 one-line-per-address
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from ipaddress import IPv6Address
from pathlib import Path
from typing import Any

from aardcheck.models import AardvarkVersion, Entry, Header, IPAddress, RunDir, Scope

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "aardvark"

#: The verdict labels of expected.json and the releases each one stands for.
GRAMMARS: dict[str, tuple[AardvarkVersion, ...]] = {
    "1.0": (AardvarkVersion(1, 0, 0), AardvarkVersion(1, 0, 3)),
    "1.1": (AardvarkVersion(1, 1, 0),),
    "1.2": (AardvarkVersion(1, 2, 0),),
    "1.3": (AardvarkVersion(1, 3, 0),),
    "1.4": (
        AardvarkVersion(1, 4, 0),
        AardvarkVersion(1, 11, 0),
        AardvarkVersion(1, 12, 0),
        AardvarkVersion(1, 14, 0),
        AardvarkVersion(2, 0, 0),
    ),
}
#: The releases whose behaviour the oracle knows, each measured with its real binary
#: (the host's 1.4.0, the podman 5 lane's 1.14.0); the oracle runs on either.
MEASURED = (AardvarkVersion(1, 4, 0), AardvarkVersion(1, 14, 0))

Verdict = str | int  # "ok", "file" (no line), or the defect's line number


@dataclass(frozen=True)
class ExpectedFile:
    name: str
    network: str
    internal: bool
    verdict: dict[str, Verdict]
    header: dict[str, Any] | None
    entries: list[dict[str, Any]]
    entries_1_0: list[dict[str, Any]] | None = None

    def entries_for(self, label: str) -> list[dict[str, Any]]:
        return self.entries_1_0 if label == "1.0" and self.entries_1_0 else self.entries


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    description: str
    files: dict[str, ExpectedFile]
    unreadable: dict[str, dict[str, bool]] = field(default_factory=dict)
    aardvark_pid: int | None = None
    per_address_groups: list[list[str]] = field(default_factory=list)
    gateway_clash: dict[str, list[str]] = field(default_factory=dict)

    def clashing_files(self, version: AardvarkVersion) -> list[str]:
        """``gateway_clash`` under the newest label not later than ``version``."""
        labels = [label for label in self.gateway_clash if AardvarkVersion.parse(label) <= version]
        newest = max(labels, key=AardvarkVersion.parse, default=None)
        return self.gateway_clash[newest] if newest is not None else []

    @property
    def dns_dir(self) -> Path:
        return self.path / "aardvark-dns"

    @property
    def run_dir(self) -> RunDir:
        return RunDir(self.path, Scope.ROOTFUL, 0)

    def content(self, file_name: str) -> bytes:
        return (self.dns_dir / file_name).read_bytes()


def _file(name: str, doc: dict[str, Any]) -> ExpectedFile:
    return ExpectedFile(
        name=name,
        network=doc["network"],
        internal=doc["internal"],
        verdict=doc["verdict"],
        header=doc["header"],
        entries=doc["entries"],
        entries_1_0=doc.get("entries_1.0"),
    )


def load_case(path: Path) -> Case:
    doc = json.loads((path / "expected.json").read_text())
    return Case(
        name=path.name,
        path=path,
        description=doc["description"],
        files={name: _file(name, spec) for name, spec in doc["files"].items()},
        unreadable=doc.get("unreadable", {}),
        aardvark_pid=doc.get("aardvark_pid"),
        per_address_groups=doc.get("per_address_groups", []),
        gateway_clash=doc.get("gateway_clash", {}),
    )


def load_cases() -> list[Case]:
    return [load_case(p) for p in sorted(FIXTURES.iterdir()) if (p / "expected.json").is_file()]


def address_text(address: IPAddress) -> str:
    """``str(address)``, but one text on every Python: 3.13 writes an IPv4-mapped IPv6
    address as ``::ffff:10.89.0.2``, older releases as ``::ffff:a59:2``."""
    mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
    return f"::ffff:{mapped}" if mapped is not None else str(address)


def entry_doc(entry: Entry) -> dict[str, Any]:
    """An Entry in expected.json's shape."""
    return {
        "line": entry.line_no,
        "id": entry.container_id,
        "ipv4": [address_text(a) for a in entry.ipv4],
        "ipv6": [address_text(a) for a in entry.ipv6],
        "names": list(entry.names),
        "dns_servers": [address_text(a) for a in entry.dns_servers],
    }


def header_doc(header: Header | None) -> dict[str, Any] | None:
    if header is None:
        return None
    return {
        "line": header.line_no,
        "gateways": [address_text(a) for a in header.gateways],
        "dns_servers": [address_text(a) for a in header.dns_servers],
    }
