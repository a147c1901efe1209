"""Frozen data of one dnsname run directory: ``dnsname/NET/{addnhosts,dnsmasq.conf,pidfile}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aardcheck.models import IPAddress

HOSTS_FILE = "addnhosts"
CONF_FILE = "dnsmasq.conf"
PID_FILE = "pidfile"
#: The plugin flocks this file inside the network's directory for every add/del/check.
LOCK_FILE = "lock"
#: Which backend serves a network's names, as reports name it.
BACKEND_DNSNAME = "dnsname"
BACKEND_AARDVARK = "aardvark-dns"


@dataclass(frozen=True, slots=True)
class HostsLine:
    """One line of ``addnhosts``. ``raw`` is kept byte-exact (as text) for repairs.

    dnsname writes ``IP<TAB>CONTAINER-NAME[<TAB>ALIAS]...``; ``defect`` says why dnsmasq
    (or dnsname's own removal) cannot use the line, None when it is a normal line.
    Blank and comment-only lines are not ``HostsLine``s.
    """

    line_no: int
    raw: str
    address: IPAddress | None
    name: str
    aliases: tuple[str, ...] = ()
    defect: str | None = None

    @property
    def short_id(self) -> str:
        """The 12-hex container id podman 4.x adds as the last alias ('' when absent)."""
        if self.aliases and _is_short_id(self.aliases[-1]):
            return self.aliases[-1].lower()
        return ""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def _is_short_id(text: str) -> bool:
    return len(text) == 12 and all(c in "0123456789abcdef" for c in text.lower())


@dataclass(frozen=True, slots=True)
class DnsmasqConf:
    """The keys of dnsname's ``dnsmasq.conf`` template that aardcheck relies on."""

    addn_hosts: str = ""
    pid_file: str = ""
    interface: str = ""
    domain: str = ""


@dataclass(frozen=True, slots=True)
class DnsnameNetwork:
    """One ``dnsname/NET/`` directory as read from disk."""

    network: str
    path: Path
    lines: tuple[HostsLine, ...] = ()
    hosts_content: bytes = field(default=b"", repr=False, compare=False)
    has_hosts: bool = True
    conf: DnsmasqConf | None = None
    pid: int | None = None
    #: Why the directory or its ``addnhosts`` could not be read ('' when it could).
    unreadable: str = ""

    @property
    def hosts_path(self) -> Path:
        return self.path / HOSTS_FILE

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE


@dataclass(frozen=True, slots=True)
class DnsnameRoot:
    """The plugin's ``.../containers/cni/dnsname`` directory and every network in it."""

    path: Path
    exists: bool
    networks: tuple[DnsnameNetwork, ...] = ()
    #: Entries that are not network directories (files, symlinks), by path and reason.
    odd: tuple[tuple[Path, str], ...] = ()

    def network(self, name: str) -> DnsnameNetwork | None:
        for net in self.networks:
            if net.network == name:
                return net
        return None
