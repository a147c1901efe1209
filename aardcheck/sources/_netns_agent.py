"""Send DNS questions and neighbour probes from inside network namespaces.

Run by ``netns.run_agent`` as ``python -I -S _netns_agent.py``: standard library only, so
it starts in ~30 ms and runs with any interpreter, also under ``podman unshare``. The
caller builds the DNS messages and parses the replies; this script only relays bytes.

For each task a short-lived thread calls ``setns(CLONE_NEWNET)`` and creates the task's
sockets; a socket stays in the namespace it was made in, so the main thread (which never
leaves its own namespace - inside a user namespace it could not come back) then serves
every task at once in one ``poll`` loop.

Job (stdin)::

    {"budget": 4.0, "tasks": [
      {"kind": "dns", "netns": PATH|null, "server": "10.89.0.1", "port": 53,
       "bind": "10.89.0.7"|null, "timeout": 1.0, "window": 32, "queries": [HEX, ...]},
      {"kind": "neigh", "netns": PATH|[PATH, ...]|null, "interface": "podman1",
       "addresses": ["10.89.0.5", "fd00::5"], "timeout": 1.5}]}

A ``neigh`` task takes the first namespace of its list that has the interface (a trailing
``*`` matches by prefix). Result (stdout), one entry per task, or ``{"error": ...}``::

    {"tasks": [{"error": null, "source": "10.89.0.7",
                "replies": [{"wire": HEX, "ms": 1.2} | {"error": "timeout", "ms": 1000.0}]},
               {"error": null, "netns": PATH,
                "addresses": {"10.89.0.5": {"lladdr": ["aa:bb:..."], "ms": 0.4} | null}}]}

Every wait ends at the job's budget; ``alarm()`` ends the process if anything still hangs.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
ETH_P_ARP = 0x0806
ICMP6_NS, ICMP6_NA = 135, 136
MAX_BUDGET = 60.0
NEVER = float("inf")

_LIBC = ctypes.CDLL(None, use_errno=True)


class JobError(ValueError):
    """The job is not what this agent understands."""


def _os_reason(exc: OSError, what: str) -> str:
    if exc.errno == errno.ENOENT:
        return f"{what}: no such file (the namespace vanished)"
    if exc.errno in (errno.EPERM, errno.EACCES):
        return f"{what}: permission denied"
    if exc.errno == errno.EINVAL:
        return f"{what}: not a network namespace (gone, or mounted in another mount namespace)"
    return f"{what}: {exc.strerror or exc}"


def _enter(path: str) -> None:
    """Move the calling thread into the network namespace at ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _LIBC.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
    finally:
        os.close(fd)


def _expand(pattern: str) -> list[str]:
    if not pattern.endswith("*"):
        return [pattern]
    folder, prefix = os.path.split(pattern[:-1])
    try:
        return [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if n.startswith(prefix)]
    except OSError:
        return []


def _text(spec: dict[str, object], key: str, default: object = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value:
        raise JobError(f"{spec.get('kind')} task: {key!r} must be a non-empty string")
    return value


def _texts(spec: dict[str, object], key: str) -> list[str]:
    value = spec.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise JobError(f"{spec.get('kind')} task: {key!r} must be a list of non-empty strings")
    return [str(v) for v in value]


def _number(spec: dict[str, object], key: str, default: float, low: float, high: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise JobError(f"{spec.get('kind')} task: {key!r} must be a number in [{low}, {high}]")
    return float(value)


class Task:
    """One unit of work in one namespace; subclasses say what is sent and heard."""

    def __init__(self, spec: dict[str, object]) -> None:
        self.timeout = _number(spec, "timeout", 1.0, 0.001, 30)
        self.error: str | None = None
        self.socks: list[socket.socket] = []

    def open(self) -> None:
        """Runs in its own thread: enter the namespace, create the sockets."""
        raise NotImplementedError

    def step(self, now: float) -> float:
        """Send what is due; return when this task next needs to act."""
        raise NotImplementedError

    def finished(self, now: float) -> bool:
        raise NotImplementedError

    def receive(self, sock: socket.socket, data: bytes) -> None:
        raise NotImplementedError

    def refused(self) -> None:
        """The peer reported (ICMP) that nothing listens; the tries will time out."""

    def result(self) -> dict[str, object]:
        raise NotImplementedError

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


class DnsTask(Task):
    """Relay pre-built DNS messages to one server, a bounded window of them at a time."""

    def __init__(self, spec: dict[str, object]) -> None:
        super().__init__(spec)
        self.netns = _text(spec, "netns") if spec.get("netns") is not None else None
        self.server = _text(spec, "server")
        self.bind = _text(spec, "bind") if spec.get("bind") is not None else None
        self.port = int(_number(spec, "port", 53, 1, 65535))
        self.window = int(_number(spec, "window", 32, 1, 1024))
        try:
            self.queries = [bytes.fromhex(q) for q in _texts(spec, "queries")]
        except ValueError as exc:
            raise JobError(f"a query is not hex: {exc}") from exc
        if any(len(q) < 12 for q in self.queries):
            raise JobError("a query is shorter than a DNS header")
        self.source = ""
        self.replies: list[dict[str, object] | None] = [None] * len(self.queries)
        self.next = 0
        self.in_flight: dict[int, tuple[int, float]] = {}  # DNS id -> (query index, sent at)
        self.first_sent = 0.0
        self.answered = False
        self.unreachable = False

    def open(self) -> None:
        if self.netns:
            _enter(self.netns)
        family = socket.AF_INET6 if ":" in self.server else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            # The gateway is on-link: one hop reaches it and nothing beyond, even from a
            # namespace that turned out to be the wrong one.
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
            if self.bind:  # ask as this address: fails where the namespace does not hold it
                self._bind(sock, self.bind)
            sock.connect((self.server, self.port))
            sock.setblocking(False)
            self.source = str(sock.getsockname()[0])
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, exc.strerror, f"{self.server} port {self.port}") from exc
        self.socks = [sock]

    @staticmethod
    def _bind(sock: socket.socket, address: str) -> None:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
            raise LookupError(f"the namespace does not hold {address}: not the member's") from exc

    def step(self, now: float) -> float:
        for qid, (index, sent) in list(self.in_flight.items()):
            if now - sent >= self.timeout:
                del self.in_flight[qid]
                self.replies[index] = self._timeout(round(self.timeout * 1000, 3))
        # A server that answered none of the first window is down: do not wait for the rest.
        silent = self.first_sent > 0 and not self.answered and now - self.first_sent >= self.timeout
        while self.next < len(self.queries) and (silent or len(self.in_flight) < self.window):
            index, query = self.next, self.queries[self.next]
            qid = int.from_bytes(query[:2], "big")
            if silent:
                self.replies[index] = self._timeout(0.0, "not sent: no earlier try was answered")
            elif qid in self.in_flight:
                break  # the same id is still out: wait for it
            else:
                try:
                    self._send(query)
                    self.first_sent = self.first_sent or now
                    self.in_flight[qid] = (index, now)
                except ConnectionRefusedError:
                    self.replies[index] = self._timeout(0.0, "not sent")
                except OSError as exc:
                    self.replies[index] = {"error": _os_reason(exc, "send"), "ms": 0.0}
            self.next += 1
        return min((sent + self.timeout for _, sent in self.in_flight.values()), default=NEVER)

    def _send(self, query: bytes) -> None:
        try:
            self.socks[0].send(query)
        except ConnectionRefusedError:  # an earlier datagram's ICMP error: this one is unsent
            self.refused()
            self.socks[0].send(query)

    def _timeout(self, ms: float, why: str = "") -> dict[str, object]:
        reasons = [why] if why else []
        if self.unreachable:
            reasons.append("the server's port is unreachable (nothing listens)")
        return {"error": "timeout", "detail": "; ".join(reasons), "ms": ms}

    def refused(self) -> None:
        self.unreachable = True

    def finished(self, now: float) -> bool:
        return self.next >= len(self.queries) and not self.in_flight

    def receive(self, sock: socket.socket, data: bytes) -> None:
        entry = (
            self.in_flight.pop(int.from_bytes(data[:2], "big"), None) if len(data) >= 12 else None
        )
        if entry is not None:  # else a late or foreign datagram
            self.answered = True
            ms = round((time.monotonic() - entry[1]) * 1000, 3)
            self.replies[entry[0]] = {"wire": data.hex(), "ms": ms}

    def result(self) -> dict[str, object]:
        if self.error is not None:
            return {"error": self.error}
        if not self.answered and self.socks:
            # Nothing answered: a silent resolver, or a member that left mid-probe (its
            # veth gone with its teardown). An empty datagram tells them apart: without
            # the member's address or route the kernel refuses to send it.
            try:
                self.socks[0].send(b"")
            except ConnectionRefusedError:
                pass
            except OSError as exc:
                return {"error": _os_reason(exc, "the member left the network mid-probe")}
        unsent = {"error": "timeout", "detail": "not sent before the deadline", "ms": 0.0}
        replies = [r if r is not None else unsent for r in self.replies]
        return {"error": None, "source": self.source, "replies": replies}


class NeighTask(Task):
    """Ask who has each address on one interface: ARP for IPv4, NDP for IPv6."""

    def __init__(self, spec: dict[str, object]) -> None:
        super().__init__(spec)
        netns = spec.get("netns")
        self.candidates: list[str | None] = [None]
        if netns is not None:
            self.candidates = (
                [*_texts(spec, "netns")] if isinstance(netns, list) else [_text(spec, "netns")]
            )
        self.interface = _text(spec, "interface")
        self.addresses = _texts(spec, "addresses")
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
                    _enter(path)
            except OSError as exc:
                problems.append(_os_reason(exc, path or "this namespace"))
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


KINDS: dict[object, type[Task]] = {"dns": DnsTask, "neigh": NeighTask}


def parse_job(job: object) -> tuple[float, list[Task]]:
    if not isinstance(job, dict) or not isinstance(job.get("tasks"), list):
        raise JobError("the job must be an object with a list of tasks")
    budget = job.get("budget")
    if not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0:
        raise JobError("budget must be a positive number of seconds")
    tasks = []
    for spec in job["tasks"]:
        kind = KINDS.get(spec.get("kind")) if isinstance(spec, dict) else None
        if kind is None:
            raise JobError(f"not a task: {spec!r:.80}")
        tasks.append(kind(spec))
    return min(float(budget), MAX_BUDGET), tasks


def open_all(tasks: list[Task], deadline: float) -> None:
    """Create every task's sockets inside its namespace, one short-lived thread per task."""

    def enter_and_open(task: Task) -> None:
        try:
            task.open()
        except OSError as exc:
            task.error = _os_reason(exc, str(exc.filename or "socket"))
        except LookupError as exc:
            task.error = str(exc)

    threads = [threading.Thread(target=enter_and_open, args=(t,), daemon=True) for t in tasks]
    for thread in threads:
        thread.start()
    for task, thread in zip(tasks, threads, strict=True):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            task.error = "entering the namespace did not finish before the deadline"


def run_all(tasks: list[Task], deadline: float) -> None:
    """One poll loop for every socket of every task, until all are done or time is up."""
    live = [t for t in tasks if t.error is None]
    owners = {sock.fileno(): (task, sock) for task in live for sock in task.socks}
    poller = select.poll()
    for fd in owners:
        poller.register(fd, select.POLLIN)
    while True:
        now = time.monotonic()
        wake = min((t.step(now) for t in live), default=NEVER)
        if now >= deadline or all(t.finished(now) for t in live):
            return
        wait_ms = int((min(wake, deadline) - now) * 1000) + 1
        for fd, _event in poller.poll(max(0, min(wait_ms, 1000))):
            task, sock = owners[fd]
            for _ in range(256):  # drain, boundedly
                try:
                    data = sock.recv(4096)
                except ConnectionRefusedError:
                    task.refused()
                    continue
                except OSError:  # EAGAIN: drained
                    break
                task.receive(sock, data)


def main() -> int:
    started = time.monotonic()
    try:
        budget, tasks = parse_job(json.loads(sys.stdin.read()))
    except ValueError as exc:  # JobError, JSON errors
        json.dump({"error": f"bad job: {exc}"}, sys.stdout)
        return 2
    signal.alarm(int(budget) + 2)  # the last resort: SIGALRM ends the process
    try:
        open_all(tasks, started + budget)
        run_all(tasks, started + budget)
        json.dump({"tasks": [t.result() for t in tasks]}, sys.stdout)
    finally:
        for task in tasks:
            task.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
