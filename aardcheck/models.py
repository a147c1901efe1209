"""The data aardcheck reasons about: aardvark files, podman state, probe answers, and the
``Snapshot`` of all of them that one check looks at. What a check concludes from it is
``aardcheck.findings``.

Everything here is immutable - a frozen dataclass, an enum, or (``Entry``, built once
per line) a NamedTuple - and carries no behaviour that touches the outside world, so
the checks that consume it stay pure and testable with literals.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import NamedTuple

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

PID_FILE_NAME = "aardvark.pid"
#: Container states in which podman has set its network up (and keeps its DNS line).
NETWORK_UP_STATES = frozenset({"running", "paused", "initialized", "stopping"})
INTERNAL_SUFFIX = "%int"


# --------------------------------------------------------------------------- aardvark files


@dataclass(frozen=True, order=True, slots=True)
class AardvarkVersion:
    """An aardvark-dns release; selects the file grammar and the resolver's behaviour."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str) -> AardvarkVersion:
        """Parse ``1.4.0`` / ``1.4`` / ``aardvark-dns 1.4.0``; raises ValueError."""
        token = text.strip().split()[-1] if text.strip() else ""
        parts = token.lstrip("v").split(".")
        if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"not an aardvark-dns version: {text!r}")
        nums = [int(p) for p in parts] + [0] * (3 - len(parts))
        return cls(nums[0], nums[1], nums[2])

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def skips_bad_files(self) -> bool:
        """>= 1.12 logs and skips a malformed file; older releases stop serving every network."""
        return self >= AardvarkVersion(1, 12)

    @property
    def start_checks_listeners(self) -> bool:
        """>= 1.12 reads the directory and binds every gateway before ``run`` returns.

        A failure then (a gateway two networks share, an address no interface holds, a
        non-UTF-8 file name) makes ``aardvark-dns run`` exit 1 and nothing is served. At
        a reload the same failure is only logged. Older releases daemonize first and a
        gateway that cannot be bound only costs that one listener.
        """
        return self >= AardvarkVersion(1, 12)

    @property
    def merges_internal_files(self) -> bool:
        """>= 1.11 serves ``NAME%int`` as network ``NAME`` (one network, one listener set)."""
        return self >= AardvarkVersion(1, 11)

    @property
    def answer_ttl(self) -> int:
        if self >= AardvarkVersion(1, 13):
            return 0
        if self >= AardvarkVersion(1, 6):
            return 60
        return 86400


#: The grammar used when nothing better is known (the newest generation we model).
LATEST_AARDVARK = AardvarkVersion(1, 14)


@dataclass(frozen=True, slots=True)
class Header:
    """First non-empty line: the addresses aardvark listens on, optional upstream DNS."""

    line_no: int
    gateways: tuple[IPAddress, ...]
    dns_servers: tuple[IPAddress, ...] = ()


class Entry(NamedTuple):
    """One container line. ``raw`` is the exact text so a repair can keep it byte for byte.

    A NamedTuple rather than a frozen dataclass: a directory read builds one per line
    (100,000 in the parser's benchmark) and a frozen dataclass's ``__init__`` pays one
    ``object.__setattr__`` per field, four times the cost. Immutable, equal and hashed
    by its fields all the same.
    """

    line_no: int
    raw: str
    container_id: str
    ipv4: tuple[IPv4Address, ...]
    ipv6: tuple[IPv6Address, ...]
    names: tuple[str, ...]
    dns_servers: tuple[IPAddress, ...] = ()

    @property
    def addresses(self) -> tuple[IPAddress, ...]:
        return (*self.ipv4, *self.ipv6)

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


@dataclass(frozen=True, slots=True)
class FileDefect:
    """Why aardvark would reject a whole file (``line_no`` None: not tied to a line)."""

    reason: str
    line_no: int | None = None


@dataclass(frozen=True, slots=True)
class NetworkFile:
    """One ``aardvark-dns/NET`` (or ``NET%int``) file as read from disk."""

    path: Path
    network: str
    internal: bool
    content: bytes = field(repr=False, compare=False)
    header: Header | None
    entries: tuple[Entry, ...]
    defect: FileDefect | None = None

    @property
    def parsable(self) -> bool:
        return self.defect is None


@dataclass(frozen=True, slots=True)
class UnreadableEntry:
    """Something in the aardvark directory that could not be read or is not a network file."""

    path: Path
    reason: str
    #: True when aardvark itself would choke on it (e.g. a subdirectory on <= 1.11).
    breaks_aardvark: bool = False


class Scope(enum.StrEnum):
    ROOTFUL = "rootful"
    ROOTLESS = "rootless"


@dataclass(frozen=True, slots=True)
class RunDir:
    """A netavark run directory: holds ``aardvark.lock`` and the ``aardvark-dns/`` directory."""

    path: Path
    scope: Scope
    uid: int

    @property
    def dns_dir(self) -> Path:
        return self.path / "aardvark-dns"

    @property
    def lock_file(self) -> Path:
        return self.path / "aardvark.lock"


@dataclass(frozen=True, slots=True)
class DnsDirectory:
    """What was found in one ``aardvark-dns/`` directory."""

    run_dir: RunDir
    exists: bool
    files: tuple[NetworkFile, ...] = ()
    unreadable: tuple[UnreadableEntry, ...] = ()
    aardvark_pid: int | None = None


# --------------------------------------------------------------------------- podman state


@dataclass(frozen=True, slots=True)
class Attachment:
    """A container's membership in one network, as podman records it."""

    network: str
    ipv4: tuple[IPv4Address, ...] = ()
    ipv6: tuple[IPv6Address, ...] = ()
    aliases: tuple[str, ...] = ()
    mac: str = ""

    @property
    def addresses(self) -> tuple[IPAddress, ...]:
        return (*self.ipv4, *self.ipv6)


@dataclass(frozen=True, slots=True)
class Container:
    id: str
    name: str
    state: str
    attachments: tuple[Attachment, ...] = ()
    sandbox_key: str = ""
    pid: int = 0
    #: Pod members share the infra container's network namespace and own no DNS line.
    pod: str = ""
    is_infra: bool = False
    #: podman lists it as up, but its process is gone (conmon was killed with it):
    #: podman 5.4 keeps listing such a container as running until it is touched,
    #: podman 4.3 fails every listing instead. Set only by the podman source.
    process_gone: bool = False

    @property
    def owns_network(self) -> bool:
        return not self.pod or self.is_infra

    @property
    def running(self) -> bool:
        """Its network is set up, so podman keeps (or is writing) its DNS line: running,
        paused, initialized (podman writes the line at init) or on its way down - and
        its process still exists."""
        return self.state in NETWORK_UP_STATES and not self.process_gone

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def attachment(self, network: str) -> Attachment | None:
        for att in self.attachments:
            if att.network == network:
                return att
        return None

    def dns_names(self, network: str) -> tuple[str, ...]:
        """Names aardvark should serve for this container on ``network`` (lower-case)."""
        att = self.attachment(network)
        names = [self.name, *(att.aliases if att else ()), self.short_id]
        seen: dict[str, None] = {}
        for n in names:
            if n:
                seen.setdefault(n.lower(), None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Subnet:
    subnet: IPNetwork
    gateway: IPAddress | None = None


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    id: str
    driver: str = "bridge"
    interface: str = ""
    subnets: tuple[Subnet, ...] = ()
    ipv6_enabled: bool = False
    internal: bool = False
    dns_enabled: bool = True
    labels: tuple[tuple[str, str], ...] = ()
    #: The libpod JSON definition as podman returned it, for an exact re-create.
    definition: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def gateways(self) -> tuple[IPAddress, ...]:
        return tuple(s.gateway for s in self.subnets if s.gateway is not None)


@dataclass(frozen=True, slots=True)
class PodmanState:
    containers: tuple[Container, ...]
    networks: tuple[Network, ...]
    aardvark_version: AardvarkVersion | None = None
    #: How many REST requests gathering this took (for the growth benchmark).
    api_requests: int = 0


# --------------------------------------------------------------------------- second sources


class Liveness(enum.StrEnum):
    """Whether something answers at an address on a network (neighbour discovery)."""

    ALIVE = "alive"
    SILENT = "silent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class AddressLiveness:
    network: str
    address: IPAddress
    liveness: Liveness
    detail: str = ""
    #: seconds the ARP/NDP look waited for a reply (None: no look was taken)
    waited: float | None = None


class ProbeStatus(enum.StrEnum):
    ANSWER = "answer"
    NXDOMAIN = "nxdomain"
    NOANSWER = "noanswer"  # NOERROR with an empty answer section
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ProbeTry:
    status: ProbeStatus
    addresses: frozenset[IPAddress] = frozenset()
    ttl: int | None = None
    latency_ms: float = 0.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """Every try of one question (``name``, ``rdtype``) asked of one network's resolver."""

    network: str
    name: str
    rdtype: str  # "A" or "AAAA"
    server: IPAddress
    tries: tuple[ProbeTry, ...]


@dataclass(frozen=True, slots=True)
class ProbeSkipped:
    """A network whose names could not be probed, and why (reported, never silent)."""

    network: str
    reason: str


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one check looked at. The checks are functions of this alone."""

    directory: DnsDirectory
    podman: PodmanState
    aardvark_version: AardvarkVersion = LATEST_AARDVARK
    #: Networks the user asked about; empty means all.
    selected: frozenset[str] = frozenset()
    liveness: tuple[AddressLiveness, ...] = ()
    probes: tuple[ProbeAnswer, ...] = ()
    probe_skipped: tuple[ProbeSkipped, ...] = ()
    probed: bool = False

    def wants(self, network: str) -> bool:
        return not self.selected or network in self.selected
