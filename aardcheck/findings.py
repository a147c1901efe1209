"""What a check concludes: the kinds of finding and their severity, one ``Finding``, and
the ``CheckResult`` of one check (what it looked at, what it found, where it looked).

Frozen dataclasses and enums, like ``models``; a finding's identity (kind, network,
name, container id, address) decides equality and order, never its message.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from aardcheck.models import Snapshot


class Severity(enum.IntEnum):
    INFO = 10
    WARNING = 20
    ERROR = 30
    CRITICAL = 40

    def __str__(self) -> str:
        return self.name.lower()


class Kind(enum.StrEnum):
    DEAD_ENTRY = "dead-entry"
    UNKNOWN_ENTRY = "unknown-entry"
    STOPPED_ENTRY = "stopped-entry"
    WRONG_ADDRESS = "wrong-address"
    ADDRESS_CONFLICT = "address-conflict"
    DUPLICATE_ENTRY = "duplicate-entry"
    MISSING_ENTRY = "missing-entry"
    ORPHAN_FILE = "orphan-file"
    HEADER_MISMATCH = "header-mismatch"
    UNPARSABLE_FILE = "unparsable-file"
    DNS_MISMATCH = "dns-mismatch"
    RESOLVER_DOWN = "resolver-down"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem. Identity (equality, order, hash) is the first five fields only."""

    kind: Kind
    network: str
    name: str = ""
    container_id: str = ""
    address: str = ""
    severity: Severity = field(default=Severity.ERROR, compare=False)
    message: str = field(default="", compare=False)
    fix: str = field(default="", compare=False)
    path: str = field(default="", compare=False)
    line_no: int | None = field(default=None, compare=False)

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        return (str(self.kind), self.network, self.name, self.container_id, self.address)


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Where a check looked, for the report header."""

    run_dir: str
    scope: str
    podman_version: str = ""
    api_url: str = ""
    private_api: bool = False
    #: podman's ``host.networkBackend``: ``netavark`` (aardvark-dns) or ``cni`` (dnsname).
    network_backend: str = "netavark"


@dataclass(frozen=True, slots=True)
class CheckResult:
    snapshot: Snapshot
    findings: tuple[Finding, ...]
    context: CheckContext
    duration_s: float = 0.0
    #: Networks whose names the CNI ``dnsname`` plugin serves (orphan directories too).
    dnsname_networks: tuple[str, ...] = ()
    #: Seconds each part of the check took, in the order they ended (``runner.check.gather``).
    phases: tuple[tuple[str, float], ...] = ()
    #: The check stopped waiting for its probe (the watcher's, for new work): its
    #: findings say nothing of the resolver's answers, neither raised nor cleared.
    probe_stopped: bool = False

    @property
    def checked_networks(self) -> tuple[str, ...]:
        names = {f.network for f in self.snapshot.directory.files}
        names |= {n.name for n in self.snapshot.podman.networks if n.dns_enabled}
        names |= set(self.dnsname_networks)
        return tuple(sorted(n for n in names if self.snapshot.wants(n)))

    def backend_of(self, network: str) -> str:
        """Which resolver serves the network's names: ``aardvark-dns`` or ``dnsname``."""
        return "dnsname" if network in self.dnsname_networks else "aardvark-dns"
