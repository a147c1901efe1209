"""The ``neigh`` task: ask who has each address on one interface, ARP for IPv4 and NDP
for IPv6, from the first namespace of a list that holds the interface. Standard library
only.
"""

from __future__ import annotations

import os
import socket
import struct
import time

from task import NEVER, JobError, Task, enter_netns, os_reason, spec_text, spec_texts

ETH_P_ARP = 0x0806
ICMP6_NS, ICMP6_NA = 135, 136


def _expand(pattern: str) -> list[str]:
    if not pattern.endswith("*"):
        return [pattern]
    folder, prefix = os.path.split(pattern[:-1])
    try:
        return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.startswith(prefix)]
    except OSError:
        return []


class NeighTask(Task):
    """Ask who has each address on one interface: ARP for IPv4, NDP for IPv6."""

    def __init__(self, spec: dict[str, object]) -> None:
        super().__init__(spec)
        netns = spec.get("netns")
        self.candidates: list[str | None] = [None]
        if netns is not None:
            self.candidates = (
                [*spec_texts(spec, "netns")]
                if isinstance(netns, list)
                else [spec_text(spec, "netns")]
            )
        self.interface = spec_text(spec, "interface")
        self.addresses = spec_texts(spec, "addresses")
        self.packed: dict[bytes, str] = {}
        for text in self.addresses:
            try:
                family = socket.AF_INET6 if ":" in text else socket.AF_INET
                self.packed[socket.inet_pton(family, text)] = text
            except OSError as exc:
                raise JobError(f"not an IP address: {text!r}") from exc
        self.netns: str | None = None
        self.arp: socket.socket | None = None
        self.icmp6: socket.socket | None = None
        self.mac = b""
        self.ifindex = 0
        self.found: dict[str, tuple[list[str], float]] = {}
        self.sends = 0
        self.started = 0.0
        #: Entered a namespace that should hold the bridge, but it has none: netavark
        #: removes a network's bridge when its last container leaves, so nothing can
        #: answer there - every address is silent without sending anything.
        self.bridge_absent = False

    def open(self) -> None:
        paths = [p for c in self.candidates for p in (_expand(c) if c else [None])]
        if not paths:
            raise LookupError(f"no network namespace at {' or '.join(map(str, self.candidates))}")
        problems = []
        entered_without_bridge: list[str | None] = []
        for path in paths:
            try:
                if path:
                    enter_netns(path)
            except OSError as exc:
                problems.append(os_reason(exc, path or "this namespace"))
                continue
            try:
                self.ifindex = socket.if_nametoindex(self.interface)
            except OSError:
                entered_without_bridge.append(path)
                continue
            self.netns = path
            self._open_sockets()
            return
        if entered_without_bridge:
            self.netns = entered_without_bridge[0]
            self.bridge_absent = True
            return
        raise LookupError("; ".join(problems))

    def _open_sockets(self) -> None:
        if any(len(p) == 4 for p in self.packed):
            self.arp = arp = socket.socket(
                socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.htons(ETH_P_ARP)
            )
            self.socks.append(arp)
            arp.bind((self.interface, ETH_P_ARP))
            self.mac = arp.getsockname()[4]
        if any(len(p) == 16 for p in self.packed):
            self.icmp6 = icmp6 = socket.socket(
                socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.IPPROTO_ICMPV6
            )
            self.socks.append(icmp6)
            icmp6.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.interface.encode())
            for option in (socket.IPV6_MULTICAST_HOPS, socket.IPV6_UNICAST_HOPS):
                icmp6.setsockopt(socket.IPPROTO_IPV6, option, 255)  # NDP demands 255
            with open(f"/sys/class/net/{self.interface}/address") as f:
                self.mac = self.mac or bytes.fromhex(f.read().strip().replace(":", ""))
        for sock in self.socks:
            sock.setblocking(False)

    def step(self, now: float) -> float:
        """(Re)send a probe for each unanswered address, three times within the timeout."""
        self.started = self.started or now
        if self.finished(now):
            return NEVER
        due = self.started + self.sends * self.timeout / 3
        if now >= due and self.sends < 3:
            self.sends += 1
            for packed, text in self.packed.items():
                if text not in self.found:
                    self._send(packed)
            due = self.started + self.sends * self.timeout / 3
        return min(due, self.started + self.timeout)

    def _send(self, packed: bytes) -> None:
        try:
            if len(packed) == 4 and self.arp is not None:
                # RFC 5227 probe: sender address 0.0.0.0, so no cache learns anything from it.
                arp = struct.pack(
                    "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, self.mac, bytes(4), bytes(6), packed
                )
                self.arp.send(b"\xff" * 6 + self.mac + struct.pack("!H", ETH_P_ARP) + arp)
            elif len(packed) == 16 and self.icmp6 is not None:
                group = socket.inet_ntop(
                    socket.AF_INET6, b"\xff\x02" + bytes(9) + b"\x01\xff" + packed[13:]
                )
                solicit = struct.pack("!BBHI16sBB6s", ICMP6_NS, 0, 0, 0, packed, 1, 1, self.mac)
                self.icmp6.sendto(solicit, (group, 0, 0, self.ifindex))
        except OSError:
            pass  # counts as no answer

    def finished(self, now: float) -> bool:
        return (
            self.bridge_absent
            or len(self.found) == len(self.packed)
            or now - self.started >= self.timeout
        )

    def receive(self, sock: socket.socket, data: bytes) -> None:
        if sock is self.arp:  # an ARP frame: a reply (2) from one of the addresses?
            if len(data) >= 42 and data[12:14] == b"\x08\x06":
                oper, sha, spa = struct.unpack("!6xH6s4s", data[14:32])
                if oper == 2:
                    self._saw(spa, sha)
        elif len(data) >= 24 and data[0] == ICMP6_NA:
            lladdr, pos = b"", 24
            while pos + 8 <= len(data) and data[pos + 1]:
                if data[pos] == 2:  # target link-layer address option
                    lladdr = data[pos + 2 : pos + 8]
                pos += data[pos + 1] * 8
            self._saw(data[8:24], lladdr)

    def _saw(self, packed: bytes, lladdr: bytes) -> None:
        text = self.packed.get(packed)
        if text is not None:
            mac = ":".join(f"{b:02x}" for b in lladdr)
            ms = round((time.monotonic() - self.started) * 1000, 3)
            macs = self.found.setdefault(text, ([], ms))[0]
            if mac not in macs:
                macs.append(mac)

    def result(self) -> dict[str, object]:
        if self.error is not None:
            return {"error": self.error}
        found = {
            a: dict(zip(("lladdr", "ms"), self.found[a], strict=True)) if a in self.found else None
            for a in self.addresses
        }
        return {
            "error": None,
            "netns": self.netns,
            "addresses": found,
            "bridge_absent": self.bridge_absent,
        }
