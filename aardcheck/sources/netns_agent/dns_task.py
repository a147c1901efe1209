"""The ``dns`` task: relay pre-built DNS messages to one server from inside a namespace,
a bounded window of them at a time. Standard library only.
"""

from __future__ import annotations

import errno
import socket
import time

from task import NEVER, JobError, Task, enter_netns, os_reason, spec_number, spec_text, spec_texts


class DnsTask(Task):
    """Relay pre-built DNS messages to one server, a bounded window of them at a time."""

    def __init__(self, spec: dict[str, object]) -> None:
        super().__init__(spec)
        self.netns = spec_text(spec, "netns") if spec.get("netns") is not None else None
        self.server = spec_text(spec, "server")
        self.bind = spec_text(spec, "bind") if spec.get("bind") is not None else None
        self.port = int(spec_number(spec, "port", 53, 1, 65535))
        self.window = int(spec_number(spec, "window", 32, 1, 1024))
        try:
            self.queries = [bytes.fromhex(q) for q in spec_texts(spec, "queries")]
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
            enter_netns(self.netns)
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
                    self.replies[index] = {"error": os_reason(exc, "send"), "ms": 0.0}
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
                return {"error": os_reason(exc, "the member left the network mid-probe")}
        unsent = {"error": "timeout", "detail": "not sent before the deadline", "ms": 0.0}
        replies = [r if r is not None else unsent for r in self.replies]
        return {"error": None, "source": self.source, "replies": replies}
