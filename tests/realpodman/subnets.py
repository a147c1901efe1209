"""Picking free IPv4 subnets for test networks."""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.realpodman.dns import port53_sockets
from tests.realpodman.proc import HarnessError, run_command

#: Subnets the harness picks from when a test gives none (away from podman's 10.89/16).
SUBNET_POOL = ipaddress.IPv4Network("10.213.0.0/16")


def free_subnet(networks: Sequence[Any], aardvark_dir: Path, *, host_routes: bool = True) -> str:
    """A random /24 of ``SUBNET_POOL`` that overlaps none of the given podman networks
    (``network ls`` JSON), no host route (when ``host_routes``), no gateway in an
    aardvark-dns file header (orphan files poison a network that reuses their subnet) and
    no address a DNS server here still listens on: aardvark-dns 1.4 keeps the socket of a
    removed network until its next reload, and a CNI network's dnsmasq on that gateway
    then fails with "Address already in use" (a full CI run on 2026-12-07).
    """
    used: list[ipaddress.IPv4Network] = []
    for network in networks:
        for subnet in network.get("subnets") or []:
            parsed = ipaddress.ip_network(subnet["subnet"], strict=False)
            if isinstance(parsed, ipaddress.IPv4Network):
                used.append(parsed)
    if host_routes:
        used.extend(_host_routes())
    used.extend(_aardvark_header_subnets(aardvark_dir))
    used.extend(_dns_sockets())
    candidates = list(SUBNET_POOL.subnets(new_prefix=24))
    random.shuffle(candidates)
    for candidate in candidates:
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise HarnessError(f"no free /24 left in {SUBNET_POOL}")


def _host_routes() -> Iterator[ipaddress.IPv4Network]:
    proc = run_command(["ip", "-4", "route", "show", "table", "all"], check=False, timeout=10)
    for line in proc.stdout.splitlines():
        token = line.split(" ", 1)[0]
        if token in ("local", "broadcast", "unreachable", "blackhole", "prohibit"):
            token = line.split()[1] if len(line.split()) > 1 else ""
        try:
            yield ipaddress.IPv4Network(token, strict=False)
        except ValueError:
            continue


def _aardvark_header_subnets(directory: Path) -> Iterator[ipaddress.IPv4Network]:
    if not directory.is_dir():
        return
    for path in directory.iterdir():
        if path.name == "aardvark.pid" or not path.is_file():
            continue
        try:
            header = next((line for line in path.read_text().split("\n") if line), "")
        except (OSError, UnicodeDecodeError):
            continue
        for gateway in header.split(" ", 1)[0].split(","):
            try:
                yield ipaddress.IPv4Network(f"{gateway}/24", strict=False)
            except ValueError:
                continue


def _dns_sockets() -> Iterator[ipaddress.IPv4Network]:
    """The /24 of every IPv4 address with a UDP socket on port 53 in this namespace."""
    for address in port53_sockets(os.getpid()):
        parsed = ipaddress.ip_address(address)
        if isinstance(parsed, ipaddress.IPv4Address) and not parsed.is_loopback:
            yield ipaddress.IPv4Network(f"{parsed}/24", strict=False)
