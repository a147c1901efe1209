"""What the path between a member and its gateway looked like when a DNS probe got no
answer (diagnostics for a failing test, rootful only: a rootless bridge lives in a
namespace this process does not see).

Written for the silence after a re-create on podman 4.3.1 (docs/tested-failures.md):
aardvark-dns's socket was up with nothing queued, so the question is where the query or
its reply went. One more ``dig`` runs while the bridge is captured (an AF_PACKET
socket: tcpdump is not installed here), beside both sides' addresses, routes and
neighbour tables, the bridge's forwarding table and the UDP counters.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost
    from tests.realpodman.model import ContainerInfo

ETH_P_ALL = 0x0003
#: linux/if_packet.h: what a captured frame was to this host
PKTTYPES = {0: "to-host", 1: "broadcast", 2: "multicast", 3: "other-host", 4: "outgoing"}
#: frames kept per capture: a probe is a handful of ARP and UDP frames
MAX_FRAMES = 40


def path_report(host: PodmanHost, network: str, member: ContainerInfo, gateway: str) -> str:
    """A paragraph per side of the path; never raises (it only adds to a failure)."""
    if host.rootless:
        return "path: not inspected (rootless bridge)"
    try:
        bridge = str(host.network_inspect(network).get("network_interface") or "")
    except Exception as err:  # diagnostics must not hide the failure itself
        bridge = f"(no bridge: {type(err).__name__}: {err})"
    address = member.ips.get(host.session.qualify(network), "")
    inside = ["nsenter", f"--net={member.sandbox_key}"]
    dig = [*inside, "dig", "+time=2", "+tries=1", f"@{gateway}", member.name]
    parts: list[Callable[[], str]] = [
        lambda: _section("member addresses", [*inside, "ip", "-br", "addr"]),
        lambda: _section("member routes", [*inside, "ip", "route"]),
        lambda: _section("member neighbours", [*inside, "ip", "neigh"]),
        lambda: f"member UDP: {_udp_counters([*inside, 'cat', '/proc/net/snmp'])}",
        lambda: _section("host route to member", ["ip", "route", "get", address]),
        lambda: _section("host neighbour", ["ip", "neigh", "show", address]),
        lambda: _section(f"ports of {bridge}", ["ip", "-br", "link", "show", "master", bridge]),
        lambda: _section(f"fdb of {bridge}", ["bridge", "fdb", "show", "br", bridge, "dynamic"]),
        lambda: f"host UDP: {_udp_counters(['cat', '/proc/net/snmp'])}",
        lambda: _conntrack(address),
        _port53_owners,
        lambda: _capture(bridge, dig),
    ]
    return "\n".join(_safely(part) for part in parts)


def _safely(part: Callable[[], str]) -> str:
    """One section; its error in its place, so the others still show."""
    try:
        return part()
    except Exception as err:  # diagnostics must not hide the failure itself
        return f"(a section failed: {type(err).__name__}: {err})"


def _section(title: str, argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
        text = (proc.stdout + proc.stderr).strip() or "-"
    except (OSError, subprocess.TimeoutExpired) as err:
        text = f"({err})"
    return f"{title}:\n  " + text.replace("\n", "\n  ")


def _udp_counters(argv: list[str]) -> str:
    """The Udp line of /proc/net/snmp as name=value pairs."""
    try:
        lines_proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10)
        lines = lines_proc.stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"({err})"
    udp = [line.split()[1:] for line in lines.splitlines() if line.startswith("Udp:")]
    if len(udp) < 2:
        return "-"
    return " ".join(f"{k}={v}" for k, v in zip(udp[0], udp[1], strict=False))


def _conntrack(address: str) -> str:
    """The kernel's tracked flows of ``address`` to port 53 (when conntrack is loaded)."""
    table = Path("/proc/net/nf_conntrack")
    try:
        rows = [r for r in table.read_text().splitlines() if f"={address} " in r and "=53 " in r]
    except OSError:
        return "conntrack: no table"
    return "conntrack to port 53:\n  " + ("\n  ".join(rows[:10]) or "-")


def proc_address(text: str, version: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/udp writes an address as 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.IPv4Address(words) if version == 4 else ipaddress.IPv6Address(words)


class Port53(NamedTuple):
    """One UDP port-53 socket, from a /proc/net/udp{,6} row."""

    address: str
    queued: int  # bytes received and not read yet
    drops: int
    inode: str


def port53_rows(proc_net: str) -> list[Port53]:
    """The UDP port-53 sockets of the network namespace ``proc_net`` shows
    (``/proc/net`` for this process's, ``/proc/PID/net`` for a process's)."""
    found = []
    for table, version in (("udp", 4), ("udp6", 6)):
        try:
            rows = Path(proc_net, table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, port = fields[1].split(":")
            if int(port, 16) == 53:
                queued = int(fields[4].split(":")[1], 16)
                where = str(proc_address(address, version))
                found.append(Port53(where, queued, int(fields[-1]), fields[9]))
    return found


def _port53_owners() -> str:
    """Every UDP port-53 socket of this namespace with the processes holding it: two
    sockets on one address (a second DNS server, a leftover daemon) look like one in
    ``dns.port53_sockets``, which keys them by address."""
    sockets = {
        s.inode: f"{s.address} queued={s.queued} drops={s.drops}" for s in port53_rows("/proc/net")
    }
    holders: dict[str, list[str]] = {inode: [] for inode in sockets}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:  # a process may end while this reads: skip it
            targets = [os.readlink(e.path) for e in os.scandir(f"/proc/{pid}/fd")]
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        for target in targets:
            inode = target[8:-1] if target.startswith("socket:[") else ""
            if inode in holders:
                holders[inode].append(f"{pid}/{comm}")
    lines = [f"{sockets[i]} inode={i} held by {','.join(h) or '-'}" for i, h in holders.items()]
    return "UDP port-53 sockets:\n  " + ("\n  ".join(lines) or "-")


def _capture(bridge: str, argv: list[str]) -> str:
    """The frames ``bridge`` carried to or from this host while ``argv`` (a dig) ran."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    except OSError as err:
        return f"capture on {bridge}: not possible ({err})"
    frames: list[str] = []
    with sock:
        try:
            sock.bind((bridge, 0))
        except OSError as err:  # the bridge may be gone (a re-create, a teardown)
            return f"capture on {bridge}: not possible ({err})"
        sock.settimeout(0.2)
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = started + 5.0  # bounded: dig gives up after 2 s
        try:
            while time.monotonic() < deadline and len(frames) < MAX_FRAMES:
                try:
                    frame, where = sock.recvfrom(2048)
                except TimeoutError:
                    frame = b""
                if frame and (seen := _frame(frame)):
                    kind = PKTTYPES.get(where[2], str(where[2]))
                    frames.append(f"+{time.monotonic() - started:.3f} {kind} {seen}")
                if not frame and proc.poll() is not None:
                    break  # dig ended and the bridge went quiet
        finally:
            try:
                out, _ = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
    dig = f"exit {proc.returncode}: {' '.join(out.split())[:200]}"
    return f"capture on {bridge} during one more dig ({dig}):\n  " + ("\n  ".join(frames) or "-")


def _frame(frame: bytes) -> str:
    """ARP and UDP port-53 frames, one line each; '' for anything else."""
    if len(frame) < 14:
        return ""
    dst, src, ethertype = frame[:6].hex(":"), frame[6:12].hex(":"), frame[12:14]
    head = f"{src} > {dst}"
    if ethertype == b"\x08\x06" and len(frame) >= 42:
        op = "request" if frame[20:22] == b"\x00\x01" else "reply"
        sender_mac = frame[22:28].hex(":")
        sender, target = socket.inet_ntoa(frame[28:32]), socket.inet_ntoa(frame[38:42])
        return f"{head} arp {op} {sender} ({sender_mac}) -> {target}"
    if ethertype == b"\x08\x00" and len(frame) >= 34 and frame[23] == 17:
        ihl = (frame[14] & 0x0F) * 4
        first_fragment = int.from_bytes(frame[20:22], "big") & 0x1FFF == 0
        if ihl < 20 or len(frame) < 18 + ihl or not first_fragment:
            return ""
        sport, dport = struct.unpack("!HH", frame[14 + ihl : 18 + ihl])
        if 53 not in (sport, dport):
            return ""
        src_ip, dst_ip = socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34])
        return f"{head} udp {src_ip}:{sport} > {dst_ip}:{dport}"
    return ""
