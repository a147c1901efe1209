"""Whether something answers at an address: the second source before calling a line dead.

From the namespace that holds the network's bridge (the host for rootful networks, the
rootless network namespace for a rootless user's), the namespace agent asks "who has
ADDR?" on the bridge itself: an ARP request (RFC 5227 probe, sender 0.0.0.0) for IPv4, a
neighbour solicitation for IPv6, sent three times within ``timeout``. Any reply means
ALIVE (with the replying MAC address in ``detail``); none means SILENT; a look that could
not be taken (no such interface there, no permission, namespace not found) is UNKNOWN.

Why not the kernel's neighbour table: an entry can be REACHABLE or STALE for seconds
after the peer went away, and reading it proves nothing by itself. Asking on the wire is
independent of cached state, takes ~1 ms for a live address, and works on layer 2 for
every container on the bridge - also those of another podman store sharing a rootful
network (``podman --root X --runroot Y run --network N``), the case this source exists for.

ALIVE means a network stack holds the address (a netns that outlived its container
still answers); it does not mean a service listens there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aardcheck.models import AddressLiveness, IPAddress, Liveness
from aardcheck.sources.netns import (
    Entry,
    Stopper,
    TaskResult,
    entry_for,
    rootless_bridge_netns,
    run_agents,
)

DEFAULT_TIMEOUT = 1.5


@dataclass(frozen=True, slots=True)
class LivenessRequest:
    """Addresses to look for on one network's bridge.

    ``netns_path`` names the namespace holding the bridge when the caller knows it (e.g.
    ``/proc/AARDVARK_PID/ns/net``); otherwise it is the current one for a rootful network
    and found from ``rootless_uid`` for a rootless one.
    """

    network: str
    interface: str
    addresses: tuple[IPAddress, ...]
    rootless_uid: int | None = None
    netns_path: str | None = None


def liveness_budget(timeout: float) -> float:
    """Seconds the in-namespace part of a run may take at most (agent start not included)."""
    return timeout + 0.5


def check_liveness(
    network: str,
    interface: str,
    addresses: Sequence[IPAddress],
    *,
    rootless_uid: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    netns_path: str | None = None,
) -> tuple[AddressLiveness, ...]:
    """ALIVE / SILENT / UNKNOWN for each address on ``network``'s bridge ``interface``."""
    request = LivenessRequest(network, interface, tuple(addresses), rootless_uid, netns_path)
    return check_liveness_many([request], timeout=timeout)


def check_liveness_many(
    requests: Sequence[LivenessRequest],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    stopper: Stopper | None = None,
) -> tuple[AddressLiveness, ...]:
    """Every request's addresses at once (one agent per entry); one result per address.
    ``stopper`` ends the agents early (the answers are then UNKNOWN)."""
    if not 0 < timeout <= 30:
        raise ValueError("timeout must be in (0, 30] seconds")
    results: dict[int, tuple[AddressLiveness, ...]] = {}
    by_entry: dict[Entry, list[LivenessRequest]] = {}
    for request in requests:
        if not request.addresses:
            results[id(request)] = ()
        elif not request.interface:
            results[id(request)] = _unknown(request, "the network has no bridge interface")
        else:
            by_entry.setdefault(entry_for(request.rootless_uid), []).append(request)
    jobs = [(entry, [_task(r, timeout) for r in reqs]) for entry, reqs in by_entry.items()]
    replies = run_agents(jobs, budget=liveness_budget(timeout), stopper=stopper)
    for reqs, entry_replies in zip(by_entry.values(), replies, strict=True):
        for request, reply in zip(reqs, entry_replies, strict=True):
            results[id(request)] = _decode(request, reply, timeout)
    return tuple(item for request in requests for item in results[id(request)])


def _task(request: LivenessRequest, timeout: float) -> dict[str, object]:
    netns: str | list[str] | None = request.netns_path
    if netns is None and request.rootless_uid is not None:
        netns = rootless_bridge_netns(request.rootless_uid)
    return {
        "kind": "neigh",
        "netns": netns,
        "interface": request.interface,
        "addresses": [str(a) for a in dict.fromkeys(request.addresses)],
        "timeout": timeout,
    }


def _decode(
    request: LivenessRequest, reply: TaskResult, timeout: float
) -> tuple[AddressLiveness, ...]:
    if reply.get("error"):
        return _unknown(request, f"cannot look on {request.interface}: {reply['error']}")
    found = reply.get("addresses")
    if not isinstance(found, dict):
        return _unknown(request, "the agent's reply is incomplete")
    results = []
    for address in request.addresses:
        seen = found.get(str(address), False)
        protocol = "ARP" if address.version == 4 else "NDP"
        if seen is None and reply.get("bridge_absent"):
            detail = f"bridge {request.interface} is gone: no container is attached anywhere"
            results.append(
                AddressLiveness(request.network, address, Liveness.SILENT, detail, timeout)
            )
        elif seen is None:
            detail = f"no {protocol} reply on {request.interface} within {timeout:g} s"
            results.append(
                AddressLiveness(request.network, address, Liveness.SILENT, detail, timeout)
            )
        elif isinstance(seen, dict) and isinstance(seen.get("lladdr"), list):
            macs = ", ".join(str(m) for m in seen["lladdr"])
            detail = f"{protocol} reply from {macs} on {request.interface} in {seen.get('ms')} ms"
            results.append(
                AddressLiveness(request.network, address, Liveness.ALIVE, detail, timeout)
            )
        else:
            results.append(AddressLiveness(request.network, address, Liveness.UNKNOWN, "no result"))
    return tuple(results)


def _unknown(request: LivenessRequest, detail: str) -> tuple[AddressLiveness, ...]:
    return tuple(
        AddressLiveness(request.network, a, Liveness.UNKNOWN, detail) for a in request.addresses
    )
