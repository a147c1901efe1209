"""What a re-create records of a network and its members, and how it compares. Pure.

Built from podman's own JSON (the libpod network and container inspect documents), so
it is tested with literal data; the journal stores it, the steps compare live state to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

from aardcheck.models import IPNetwork


@dataclass(frozen=True, slots=True)
class RecordedContainer:
    """One member of the network, as it must come back."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    static_ips: tuple[str, ...] = ()
    static_mac: str = ""
    running: bool = False
    #: "live" (read from the running container), "create-command" (a stopped container's
    #: static settings, from its create command) or "none" (stopped, addresses dynamic).
    addresses_from: str = "live"


#: Keys of podman's network JSON that describe one incarnation, not the definition:
#: its id, creation time, and (podman 5.x inspect only) the containers attached now.
INCARNATION_KEYS = frozenset({"id", "created", "containers"})
#: The bridge's name: podman's choice unless set, and the one setting a concurrent
#: ``network create`` can take while the network is gone.
BRIDGE_NAME = frozenset({"network_interface"})


def definition_of(network_json: Mapping[str, Any]) -> dict[str, Any]:
    """The libpod network JSON minus ``INCARNATION_KEYS``: what ``POST /networks/create``
    takes to build the same network again."""
    return {k: v for k, v in network_json.items() if k not in INCARNATION_KEYS}


def _canonical(value: Any) -> Any:
    """Empty maps, lists and nulls dropped (podman omits them in some places only)."""
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in sorted(value.items()) if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def same_definition(
    a: Mapping[str, Any], b: Mapping[str, Any], *, ignore: frozenset[str] = frozenset()
) -> bool:
    """Equal definitions, up to empty values and the keys in ``ignore``."""
    left = {k: v for k, v in definition_of(a).items() if k not in ignore}
    right = {k: v for k, v in definition_of(b).items() if k not in ignore}
    return bool(_canonical(left) == _canonical(right))


def _subnets(definition: Mapping[str, Any]) -> list[IPNetwork]:
    nets = []
    for s in definition.get("subnets") or ():
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            nets.append(ip_network(str(s.get("subnet")), strict=False))
    return nets


def _live_addresses(settings: Mapping[str, Any]) -> list[str]:
    found = [settings.get("IPAddress"), settings.get("GlobalIPv6Address")]
    for key in ("SecondaryIPAddresses", "SecondaryIPv6Addresses"):
        for extra in settings.get(key) or ():
            found.append(extra.get("Addr") if isinstance(extra, Mapping) else extra)
    return [str(a) for a in found if isinstance(a, str) and a]


def static_from_create_command(argv: Sequence[str], network: str) -> tuple[list[str], str]:
    """A stopped container's static addresses and MAC on ``network``, best effort, from
    its create command (podman 4.3 shows them nowhere else): ``--network NET:ip=..,mac=..``,
    or ``--ip``/``--ip6``/``--mac-address`` with ``NET`` as the only network."""
    options = {
        "--network": "network",
        "--net": "network",
        "--ip": "ip",
        "--ip6": "ip6",
        "--mac-address": "mac",
    }
    seen: dict[str, list[str]] = {"network": [], "ip": [], "ip6": [], "mac": []}
    args = list(argv)
    for i, arg in enumerate(args):
        flag, eq, value = arg.partition("=")
        if flag in options:
            if not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
            seen[options[flag]].append(value)
    ips: list[str] = []
    mac = ""
    names = []
    for spec in seen["network"]:
        name, _, opts = spec.partition(":")
        names.append(name)
        if name != network:
            continue
        for opt in opts.split(","):
            key, _, val = opt.partition("=")
            if key in ("ip", "ip6"):
                ips.append(val)
            elif key == "mac":
                mac = val
    if names == [network] and not ips and not mac:
        ips = seen["ip"] + seen["ip6"]
        mac = seen["mac"][-1] if seen["mac"] else ""
    return ips, mac


def recorded_container(
    inspect: Mapping[str, Any], network: str, definition: Mapping[str, Any]
) -> RecordedContainer:
    """A member as ``GET /containers/ID/json`` (libpod) shows it: aliases minus the short
    id; the live addresses and MAC when its network is up, else the static ones from its
    create command (only addresses inside the network's subnets are kept)."""
    cid = str(inspect.get("Id", "")).lower()
    settings = ((inspect.get("NetworkSettings") or {}).get("Networks") or {}).get(network) or {}
    state = inspect.get("State") or {}
    aliases = tuple(a for a in settings.get("Aliases") or () if a and a != cid[:12])
    live = _live_addresses(settings)
    if live:
        ips, mac, source = live, str(settings.get("MacAddress") or ""), "live"
    else:
        argv = (inspect.get("Config") or {}).get("CreateCommand") or []
        ips, mac = static_from_create_command([str(a) for a in argv], network)
        source = "create-command" if ips or mac else "none"
    subnets = _subnets(definition)
    kept = []
    for text in ips:
        with contextlib.suppress(ValueError):
            if any(ip_address(text) in s for s in subnets):
                kept.append(str(ip_address(text)))
    return RecordedContainer(
        id=cid,
        name=str(inspect.get("Name", "")).lstrip("/"),
        aliases=aliases,
        static_ips=tuple(kept),
        static_mac=mac.lower(),
        running=bool(state.get("Running")) or state.get("Status") == "running",
        addresses_from=source,
    )


def settings_mismatch(rc: RecordedContainer, inspect: Mapping[str, Any], network: str) -> str:
    """How a connected container differs from its record ("" when it does not)."""
    cid = str(inspect.get("Id", "")).lower()
    settings = ((inspect.get("NetworkSettings") or {}).get("Networks") or {}).get(network) or {}
    problems = []
    aliases = {a for a in settings.get("Aliases") or () if a and a != cid[:12]}
    if aliases != set(rc.aliases):
        problems.append(f"aliases {sorted(aliases)} instead of {sorted(rc.aliases)}")
    live = _live_addresses(settings)
    if live and rc.static_ips and set(live) != set(rc.static_ips):
        problems.append(f"addresses {live} instead of {list(rc.static_ips)}")
    mac = str(settings.get("MacAddress") or "").lower()
    if mac and rc.static_mac and mac != rc.static_mac:
        problems.append(f"MAC {mac} instead of {rc.static_mac}")
    return "; ".join(problems)


def describe(rc: RecordedContainer) -> str:
    parts = [rc.name or rc.id[:12]]
    if rc.aliases:
        parts.append("aliases=" + ",".join(rc.aliases))
    if rc.static_ips:
        parts.append("ips=" + ",".join(rc.static_ips))
    if rc.static_mac:
        parts.append(f"mac={rc.static_mac}")
    parts.append("running" if rc.running else "not running")
    return " ".join(parts)
