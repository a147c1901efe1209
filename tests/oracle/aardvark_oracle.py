"""Run the real aardvark-dns in a network namespace of our own and ask it questions.

How aardvark-dns 1.4.0 ``run`` behaves (read in ``src/commands/run.rs`` and
``src/server/serve.rs`` at v1.4.0, and observed with this helper):

* ``run`` daemonizes: it forks; the child calls setsid, re-opens ``/dev/null`` by path
  as its stdin/stdout/stderr, writes ``aardvark.pid`` and tells the parent "ready"
  through a pipe; the parent then exits 0. All of that happens *before* the
  configuration is read, so ``aardvark-dns run`` exits 0 even for a directory it
  rejects.
* The child then parses the whole directory. On an error it exits with status 1 and
  prints ``Error starting server Server Error unable to parse config: <reason>`` to its
  stdout, i.e. to /dev/null; nothing goes to syslog. ``aardvark.pid`` is left behind,
  naming the dead process (netavark's next SIGHUP then gets ESRCH and starts a new
  aardvark, which dies the same way while the bad file stays).
* A SIGHUP re-runs the same parse: a bad file makes the running daemon exit 1 the same
  way, so every network loses DNS at the next container start or stop.
* No network file at all: it removes ``aardvark.pid`` and exits 0.
* One UDP socket per (network, header address) on port ``-p``; an address that is not
  configured on an interface, or already bound for another network, only fails that
  socket (logged), the others serve.
* Answers carry TTL 86400. A query from an address that is no container's is answered
  from the listening network's names, compared case-sensitively (``WEB`` is NXDOMAIN
  where ``web`` resolves); unknown single-label names get NXDOMAIN, and with
  ``AARDVARK_NO_PROXY`` set nothing is ever forwarded upstream.

How aardvark-dns 1.14.0 differs (read in ``src/commands/run.rs``, ``src/server/serve.rs``,
``src/config/mod.rs``, ``src/backend/mod.rs`` and ``src/dns/coredns.rs`` at v1.14.0;
measured with this helper in the podman 5 lane):

* The child writes ``aardvark.pid``, then reads the directory and binds every listener
  (UDP and TCP) *before* it daemonizes and signals "ready". Any error there - a gateway
  two networks share (EADDRINUSE), an address no interface holds, a non-UTF-8 file name
  whose content parses - ends the child with status 1 and ``Error starting server ...``
  on the stderr it still shares with the parent; the parent, reading no "ready", adds
  ``Error from child process`` and exits 1. So ``aardvark-dns run`` itself fails.
* A file it cannot read or parse (any grammar error, non-UTF-8 content, a
  subdirectory) is logged to syslog and left out; a dangling symlink silently. That
  network gets no listener: its gateway does not answer at all. The other networks are
  served. If nothing is left to serve, the pid file is removed and the child exits 0
  (before "ready": the parent then exits 1).
* At a SIGHUP errors are logged and the daemon keeps running: bad files are skipped as
  at start, a gateway that cannot be bound costs that listener only, and a non-UTF-8
  file name makes it keep its previous configuration whole.
* Answers carry TTL 0 (none is set). The question is lower-cased for every asker
  (since 1.13), and a trailing ``.dns.podman`` is stripped.

The helper only touches what it creates: a netns named with the run's unique prefix,
a veth pair inside it, processes started through ``_launcher.py``. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from typing import IO, Any, TypeVar

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from aardcheck.models import IPAddress

AARDVARK_BIN = Path("/usr/lib/podman/aardvark-dns")
LAUNCHER = Path(__file__).with_name("_launcher.py")
CLONE_NEWNET = 0x40000000
GATEWAY_IF = "acxgw0"
_T = TypeVar("_T")


def unavailable_reason() -> str | None:
    """Why the oracle cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not os.access(AARDVARK_BIN, os.X_OK):
        return f"{AARDVARK_BIN} missing"
    if shutil.which("ip") is None:
        return "iproute2 (ip) missing"
    return None


def _ip(*args: str, timeout: float = 10.0) -> str:
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Netns:
    """A network namespace with one veth pair (up) that carries the gateway addresses."""

    name: str
    addresses: set[IPAddress] = field(default_factory=set)

    @classmethod
    def create(cls, name: str) -> Netns:
        _ip("netns", "add", name)
        netns = cls(name)
        try:
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", name, "link", "add", GATEWAY_IF, "type", "veth", "peer", "name", "acxpeer0")
            _ip("-n", name, "link", "set", GATEWAY_IF, "up")
            _ip("-n", name, "link", "set", "acxpeer0", "up")
        except Exception:
            netns.destroy()
            raise
        return netns

    @property
    def path(self) -> Path:
        return Path("/run/netns") / self.name

    def add_address(self, address: IPAddress) -> None:
        if address in self.addresses:
            return
        if isinstance(address, IPv4Address):
            _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", GATEWAY_IF)
        else:
            _ip("-n", self.name, "addr", "add", f"{address}/128", "dev", GATEWAY_IF, "nodad")
        self.addresses.add(address)

    def pids(self) -> list[int]:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            return [int(p) for p in _ip("netns", "pids", self.name).split()]
        return []

    def destroy(self) -> list[str]:
        """Kill whatever still runs in the netns (only ours can), then delete it."""
        problems: list[str] = []
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            _ip("netns", "del", self.name)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            problems.append(str(err))
        return problems

    def run_inside(self, work: Callable[[], _T]) -> _T:
        """Run ``work`` on a throw-away thread that joined this netns (setns is per thread)."""
        result: list[_T] = []
        errors: list[BaseException] = []

        def thread_main() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            target = os.open(self.path, os.O_RDONLY)
            try:
                if libc.setns(target, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
                try:
                    result.append(work())
                finally:
                    libc.setns(own, CLONE_NEWNET)  # the thread ends right after anyway
            except BaseException as err:  # handed to the caller's thread
                errors.append(err)
            finally:
                os.close(own)
                os.close(target)

        worker = threading.Thread(target=thread_main, daemon=True)
        worker.start()
        worker.join(30)
        if errors:
            raise errors[0]
        if not result:
            raise TimeoutError("netns worker did not finish")
        return result[0]

    def udp_socket(self, address: IPAddress) -> socket.socket:
        family = socket.AF_INET if isinstance(address, IPv4Address) else socket.AF_INET6
        sock = self.run_inside(lambda: socket.socket(family, socket.SOCK_DGRAM))
        sock.setblocking(False)  # what dnspython wants from a socket it is given
        return sock


@dataclass(frozen=True)
class Answer:
    rcode: str
    addresses: frozenset[IPAddress]
    ttls: frozenset[int]


def ask(netns: Netns, server: IPAddress, name: str, rdtype: str, timeout: float = 1.0) -> Answer:
    """One UDP question from inside ``netns`` (source: the address facing ``server``)."""
    query = dns.message.make_query(name, rdtype)
    with netns.udp_socket(server) as sock:
        response = dns.query.udp(
            query, str(server), port=53, timeout=timeout, sock=sock, ignore_unexpected=True
        )
    addresses: set[IPAddress] = set()
    ttls: set[int] = set()
    for rrset in response.answer:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            addresses.update(ip_address(r.address) for r in rrset)
            ttls.add(rrset.ttl)
    return Answer(dns.rcode.to_text(response.rcode()), frozenset(addresses), frozenset(ttls))


class Daemon:
    """One ``aardvark-dns run`` under ``_launcher.py``; call :meth:`stop` in a finalizer."""

    def __init__(self, netns: Netns, config_dir: Path, capture: Path) -> None:
        self.netns = netns
        self.config_dir = config_dir
        self.capture = capture
        self.pid: int | None = None
        self.started: dict[str, Any] = {}
        self.exit: dict[str, Any] | None = None
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._launcher: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self, timeout: float = 20.0) -> dict[str, Any]:
        self.capture.write_bytes(b"")
        self._stderr = open(self.capture.with_suffix(".launcher"), "wb")  # noqa: SIM115
        self._launcher = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.netns.name,
                sys.executable,
                str(LAUNCHER),
                str(self.capture),
                str(self.config_dir),
                "53",
                str(AARDVARK_BIN),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        started = self._next_event(timeout)
        if started is None or started.get("event") != "started":
            errors = self.capture.with_suffix(".launcher").read_text(errors="replace")
            raise RuntimeError(f"launcher did not start aardvark-dns: {started} {errors}")
        self.pid = started.get("pid")
        self.started = started
        return started

    def _pump(self) -> None:
        assert self._launcher is not None and self._launcher.stdout is not None
        for line in self._launcher.stdout:
            with contextlib.suppress(ValueError):
                self._events.put(json.loads(line))

    def _next_event(self, timeout: float) -> dict[str, Any] | None:
        try:
            event = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return None
        if event.get("event") == "exited":
            self.exit = event
        return event

    def exited(self, timeout: float = 0.0) -> dict[str, Any] | None:
        """The exit event, waiting up to ``timeout`` seconds for it."""
        deadline = time.monotonic() + timeout
        while self.exit is None:
            if self._next_event(max(0.0, deadline - time.monotonic())) is None:
                break
        return self.exit

    def sighup(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGHUP)

    def wait_for(self, server: IPAddress, name: str, timeout: float = 5.0) -> bool:
        """True once ``server`` answers ``name`` with an address; False if the daemon died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exited() is not None:
                return False
            with contextlib.suppress(dns.exception.Timeout, OSError):
                if ask(self.netns, server, name, "A", timeout=0.3).addresses:
                    return True
            time.sleep(0.02)
        if self.exited(timeout=0.5) is not None:
            return False
        raise TimeoutError(f"aardvark-dns neither answered {name} at {server} nor exited")

    def stop(self) -> dict[str, Any] | None:
        launcher = self._launcher
        if launcher is None:
            return self.exit
        if launcher.poll() is None and launcher.stdin is not None:
            with contextlib.suppress(OSError):
                launcher.stdin.write("stop\n")
                launcher.stdin.flush()
        self.exited(timeout=8.0)
        try:
            launcher.wait(timeout=8.0)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait(timeout=5.0)
        if self.exit is None and self.pid is not None:  # last resort: never leak it
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        if self._stderr is not None:
            self._stderr.close()
        return self.exit


@contextlib.contextmanager
def running(netns: Netns, config_dir: Path, capture: Path) -> Iterator[Daemon]:
    daemon = Daemon(netns, config_dir, capture)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


def silent(netns: Netns, server: IPAddress, name: str, timeout: float = 0.4) -> bool:
    """True when no answer at all comes from ``server`` within ``timeout`` (no listener)."""
    try:
        ask(netns, server, name, "A", timeout=timeout)
    except (dns.exception.Timeout, OSError):  # OSError: the port-unreachable ICMP came back
        return True
    return False
