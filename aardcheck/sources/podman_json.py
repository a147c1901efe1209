"""Turn podman REST API JSON into the model. Pure: literal JSON in, frozen dataclasses out.

Kept apart from the API client so fixtures of real podman output can drive the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.models import Attachment, Container, IPAddress, Network, Subnet


class UnexpectedAnswer(EnvironmentUnavailable):
    """podman answered with JSON of another shape than its API documents."""


def _items(listing: object, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(listing, list) or not all(isinstance(i, dict) for i in listing):
        raise UnexpectedAnswer(
            f"podman API answered {what} with a {type(listing).__name__}, not a list of objects"
        )
    return listing


def _ip(text: object) -> IPAddress | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return ip_address(text)
    except ValueError:
        return None


def _attachment(name: str, settings: Mapping[str, Any], short_id: str) -> Attachment:
    v4 = _ip(settings.get("IPAddress"))
    v6 = _ip(settings.get("GlobalIPv6Address"))
    # podman lists the short id among the aliases; it is not a user alias, keep it out.
    aliases = tuple(
        a for a in (settings.get("Aliases") or ()) if isinstance(a, str) and a and a != short_id
    )
    return Attachment(
        network=name,
        ipv4=(v4,) if isinstance(v4, IPv4Address) else (),
        ipv6=(v6,) if isinstance(v6, IPv6Address) else (),
        aliases=aliases,
        mac=str(settings.get("MacAddress") or ""),
    )


@dataclass(frozen=True, slots=True)
class LibpodDetail:
    """What only the libpod listing has: the pid (for probes) and pod membership."""

    pid: int = 0
    pod: str = ""
    is_infra: bool = False


def containers_from_compat(
    listing: object, details: Mapping[str, LibpodDetail] | None = None
) -> tuple[Container, ...]:
    """Containers from the Docker-compatible ``GET /containers/json?all=true`` listing.

    That endpoint is the one listing that carries per-network addresses and aliases;
    ``details`` (from the libpod listing) adds pids and pods.
    """
    known = details or {}
    # Only a pod with an infra container shares one network namespace among its members;
    # podman-compose 1.x makes pods with --infra=false, whose members each own theirs.
    infra_pods = {d.pod for d in known.values() if d.is_infra and d.pod}
    containers = []
    for item in _items(listing, "/containers/json"):
        cid = str(item.get("Id", "")).lower()
        if not cid:
            continue
        names = item.get("Names") or [""]
        name = str(names[0]).lstrip("/")
        networks = (item.get("NetworkSettings") or {}).get("Networks") or {}
        atts = tuple(
            _attachment(str(net), settings or {}, cid[:12])
            for net, settings in sorted(networks.items())
        )
        detail = known.get(cid, LibpodDetail())
        pid = detail.pid
        containers.append(
            Container(
                id=cid,
                name=name,
                state=str(item.get("State", "")).lower(),
                attachments=atts,
                pid=pid,
                # The pid's netns is the container's; the probe re-checks the pid's identity.
                sandbox_key=f"/proc/{pid}/ns/net" if pid > 0 else "",
                pod=detail.pod if detail.pod in infra_pods else "",
                is_infra=detail.is_infra,
            )
        )
    return tuple(containers)


def details_from_libpod(listing: object) -> dict[str, LibpodDetail]:
    """id -> pid and pod membership, from ``GET /libpod/containers/json``."""
    details = {}
    for item in _items(listing, "/libpod/containers/json"):
        pid = item.get("Pid")
        details[str(item.get("Id", "")).lower()] = LibpodDetail(
            pid=pid if isinstance(pid, int) and pid > 0 else 0,
            pod=str(item.get("Pod") or ""),
            is_infra=bool(item.get("IsInfra", False)),
        )
    return details


def states_from_libpod(listing: object) -> tuple[Container, ...]:
    """Ids, names and states alone, from ``GET /libpod/containers/json``: enough to
    re-verify a line under podman's netavark lock (no addresses: see ``container_states``)."""
    containers = []
    for item in _items(listing, "/libpod/containers/json"):
        cid = str(item.get("Id", "")).lower()
        if not cid:
            continue
        names = item.get("Names") or [""]
        pid = item.get("Pid")
        containers.append(
            Container(
                id=cid,
                name=str(names[0]).lstrip("/"),
                state=str(item.get("State", "")).lower(),
                pid=pid if isinstance(pid, int) and pid > 0 else 0,
                pod=str(item.get("Pod") or ""),
                is_infra=bool(item.get("IsInfra", False)),
            )
        )
    return tuple(containers)


def network_from_libpod(item: Mapping[str, Any]) -> Network:
    subnets = []
    for s in item.get("subnets") or ():
        try:
            net = ip_network(str(s.get("subnet")), strict=False)
        except ValueError:
            continue
        subnets.append(Subnet(subnet=net, gateway=_ip(s.get("gateway"))))
    labels = item.get("labels") or {}
    return Network(
        name=str(item.get("name", "")),
        # The podman package's Network.id is sha256(name) (it looks for "Id"): read "id".
        id=str(item.get("id", "")),
        driver=str(item.get("driver", "")),
        interface=str(item.get("network_interface", "")),
        subnets=tuple(subnets),
        ipv6_enabled=bool(item.get("ipv6_enabled", False)),
        internal=bool(item.get("internal", False)),
        dns_enabled=bool(item.get("dns_enabled", False)),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        definition=dict(item),
    )


def networks_from_libpod(listing: object) -> tuple[Network, ...]:
    return tuple(network_from_libpod(item) for item in _items(listing, "/networks/json"))
