"""A podman REST API double on a unix socket: real podman 4.3's JSON shapes, and faults.

The shapes are those of podman 4.3.1 as measured on this project's machines (libpod
``/info``, libpod and Docker-compatible ``/containers/json``, libpod ``/networks/json``).
A test builds a :class:`FakePodman`, optionally gives a route a :class:`Reply` (an error
status, garbage, a hang-up, or "die after answering" - the service killed mid-run), and
serves it with :func:`serve`. Every request is logged, so a test can assert what aardcheck
asked before it stopped.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

#: ``/v5.8.0/libpod/containers/json`` -> ("libpod", "/containers/json")
_PATH = re.compile(r"^/v[0-9.]+(/libpod)?(/[^?]*)")


@dataclass(frozen=True)
class Attachment:
    network: str
    ip: str
    aliases: tuple[str, ...] = ()
    gateway: str = ""
    mac: str = "aa:bb:cc:00:00:01"


@dataclass(frozen=True)
class FakeContainer:
    id: str
    name: str
    state: str = "running"
    attachments: tuple[Attachment, ...] = ()
    pid: int = 0

    def libpod(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Names": [self.name],
            "State": self.state,
            "Pid": self.pid,
            "Pod": "",
            "IsInfra": False,
            "Networks": [a.network for a in self.attachments],
        }

    def compat(self) -> dict[str, Any]:
        networks = {
            a.network: {
                "Aliases": [*a.aliases, self.id[:12]],
                "NetworkID": a.network,
                "Gateway": a.gateway,
                "IPAddress": a.ip,
                "IPPrefixLen": 24,
                "GlobalIPv6Address": "",
                "MacAddress": a.mac,
            }
            for a in self.attachments
        }
        return {
            "Id": self.id,
            "Names": [f"/{self.name}"],
            "State": self.state,
            "NetworkSettings": {"Networks": networks},
        }


def network_json(name: str, subnet: str, gateway: str, interface: str = "") -> dict[str, Any]:
    """libpod network JSON. ``interface`` empty: aardcheck has no bridge to look on."""
    return {
        "name": name,
        "id": f"{abs(hash(name)):064x}"[-64:],
        "driver": "bridge",
        "network_interface": interface,
        "subnets": [{"subnet": subnet, "gateway": gateway}],
        "ipv6_enabled": False,
        "internal": False,
        "dns_enabled": True,
        "ipam_options": {"driver": "host-local"},
    }


def info_json(*, run_root: Path, graph_root: Path, rootless: bool = True) -> dict[str, Any]:
    return {
        "host": {"networkBackend": "netavark", "security": {"rootless": rootless}},
        "store": {"runRoot": str(run_root), "graphRoot": str(graph_root)},
        "version": {"Version": "4.3.1", "APIVersion": "4.3.1"},
    }


@dataclass(frozen=True)
class Reply:
    """How one route misbehaves. Default: the route's normal JSON."""

    status: int = 200
    #: None: the route's JSON; bytes: sent as is.
    body: bytes | None = None
    #: Close the connection without answering (a crash while handling the request).
    hang_up: bool = False
    #: Answer (or hang up), then stop listening and remove the socket (the service was
    #: killed).
    then_die: bool = False
    #: Answer the first ``skip`` requests of the route normally.
    skip: int = 0


def error_reply(status: int, message: str) -> Reply:
    """An error the way podman words it (``cause``/``message``/``response``)."""
    body = {"cause": message, "message": message, "response": status}
    return Reply(status, json.dumps(body).encode())


@dataclass
class FakePodman:
    info: dict[str, Any]
    containers: list[FakeContainer] = field(default_factory=list)
    networks: list[dict[str, Any]] = field(default_factory=list)
    #: route ("ping", "info", "containers", "compat-containers", "networks") -> fault
    faults: dict[str, Reply] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, raw_path: str) -> tuple[str, Any]:
        match = _PATH.match(raw_path)
        if match is None:
            return "unknown", None
        libpod, path = bool(match.group(1)), match.group(2)
        if path == "/_ping":
            return "ping", None
        if path == "/info":
            return "info", self.info
        if path == "/containers/json":
            if libpod:
                return "containers", [c.libpod() for c in self.containers]
            return "compat-containers", [c.compat() for c in self.containers]
        if path == "/networks/json":
            return "networks", self.networks
        return "unknown", None

    def log(self, route: str) -> int:
        """Record a request; returns how many of this route came before it."""
        with self._lock:
            earlier = self.requests.count(route)
            self.requests.append(route)
        return earlier


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    fake: FakePodman
    socket_path: Path

    def die(self) -> None:
        """Stop accepting and remove the socket, as a killed service leaves it."""
        self.socket_path.unlink(missing_ok=True)
        threading.Thread(target=self.shutdown, daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        fake = self.server.fake
        route, payload = fake.route(self.path)
        earlier = fake.log(route)
        reply = fake.faults.get(route, Reply())
        if earlier < reply.skip:
            reply = Reply()
        if reply.hang_up:
            self.close_connection = True
            self.connection.shutdown(2)
            if reply.then_die:
                self.server.die()
            return
        if route == "unknown":
            reply = error_reply(404, f"no such route {self.path}")
        if reply.body is not None:
            body = reply.body
        elif route == "ping":
            body = b"OK"
        else:
            body = json.dumps(payload).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if reply.then_die:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if reply.then_die:
            self.close_connection = True
            self.server.die()


@contextmanager
def serve(fake: FakePodman, socket_path: Path) -> Iterator[str]:
    """Serve ``fake`` on ``socket_path`` in a thread; yields the ``unix://`` URL."""
    server = _Server(str(socket_path), _Handler)
    server.fake = fake
    server.socket_path = socket_path
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"unix://{socket_path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        socket_path.unlink(missing_ok=True)


def hex_id(seed: int | str) -> str:
    """A 64-hex container id that is easy to tell apart in a failure message."""
    text = str(seed).encode().hex()
    return (text * 64)[:64]
