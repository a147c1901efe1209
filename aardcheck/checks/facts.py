"""Indexes over a Snapshot that several checks share (built once per analysis)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from aardcheck.models import (
    AddressLiveness,
    Attachment,
    Container,
    Entry,
    IPAddress,
    Liveness,
    Network,
    NetworkFile,
    Snapshot,
)


@dataclass(frozen=True)
class Facts:
    snapshot: Snapshot
    containers: dict[str, Container] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    files: dict[str, list[NetworkFile]] = field(default_factory=dict)
    #: (network, address) -> live containers podman places there
    live_at: dict[tuple[str, IPAddress], list[Container]] = field(default_factory=dict)
    liveness: dict[tuple[str, IPAddress], AddressLiveness] = field(default_factory=dict)
    #: network -> (running container that owns its netns, its attachment), podman's order.
    #: Checks look members up per network: scanning every container for every network
    #: made a host of 1,000 networks x 100 containers take half a minute.
    members: dict[str, list[tuple[Container, Attachment]]] = field(default_factory=dict)
    _live_names: dict[str, dict[str, set[IPAddress]]] = field(default_factory=dict)

    @classmethod
    def of(cls, snapshot: Snapshot) -> Facts:
        files: dict[str, list[NetworkFile]] = defaultdict(list)
        for f in snapshot.directory.files:
            files[f.network].append(f)
        live_at: dict[tuple[str, IPAddress], list[Container]] = defaultdict(list)
        members: dict[str, list[tuple[Container, Attachment]]] = defaultdict(list)
        for c in snapshot.podman.containers:
            if c.running and c.owns_network:
                for att in c.attachments:
                    if c.attachment(att.network) is att:  # the first one, as attachment()
                        members[att.network].append((c, att))
                    for addr in att.addresses:
                        live_at[(att.network, addr)].append(c)
        return cls(
            snapshot=snapshot,
            containers={c.id: c for c in snapshot.podman.containers},
            networks={n.name: n for n in snapshot.podman.networks},
            files=dict(files),
            live_at=dict(live_at),
            liveness={(a.network, a.address): a for a in snapshot.liveness},
            members=dict(members),
        )

    def selected_files(self) -> list[NetworkFile]:
        return [f for f in self.snapshot.directory.files if self.snapshot.wants(f.network)]

    def dns_networks(self) -> list[Network]:
        """Networks podman serves names on (bridge with DNS), as selected."""
        return [
            n
            for n in self.snapshot.podman.networks
            if n.dns_enabled and n.driver == "bridge" and self.snapshot.wants(n.name)
        ]

    def owner(self, entry: Entry) -> Container | None:
        return self.containers.get(entry.container_id)

    def live_names(self, network: str) -> dict[str, set[IPAddress]]:
        """name -> addresses that podman says should answer for it on ``network``."""
        known = self._live_names.get(network)
        if known is None:
            names: dict[str, set[IPAddress]] = defaultdict(set)
            for c, att in self.members.get(network, ()):
                for name in c.dns_names(network):
                    names[name].update(att.addresses)
            known = self._live_names[network] = dict(names)
        return {name: set(addresses) for name, addresses in known.items()}


def entry_label(entry: Entry) -> str:
    """How a line is named to a user: its first name, else its short id."""
    return entry.names[0] if entry.names and entry.names[0] else entry.short_id


def container_label(container: Container) -> str:
    return f"{container.name} ({container.short_id})"


def is_dead_candidate(facts: Facts, entry: Entry) -> bool:
    return entry.container_id not in facts.containers


def liveness_of(facts: Facts, network: str, address: IPAddress) -> Liveness:
    seen = facts.liveness.get((network, address))
    return seen.liveness if seen else Liveness.UNKNOWN
