"""Podman's REST API, through the ``podman`` package: the source of truth for what runs.

Finds the socket as podman itself would for root and rootless users; when nothing listens
there, starts a private ``podman system service`` on a temporary socket for this run only.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.models import NETWORK_UP_STATES, Container, PodmanState
from aardcheck.podman_json import (
    containers_from_compat,
    details_from_libpod,
    networks_from_libpod,
    states_from_libpod,
)

#: How long a private API service may take to come up (podman cold start ~0.3 s here).
SERVICE_START_TIMEOUT = 15.0
#: The private service exits by itself after this much idle time, even if we are killed.
SERVICE_IDLE_EXIT = 120
#: Variables that would turn the private service into a remote client (CONTAINER_HOST
#: pointing at a dead socket is why we start it), or make it talk to systemd as if it
#: were the unit's main process.
_SERVICE_ENV_DROP = (
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "CONTAINER_SSHKEY",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)


_VANISHED_NETNS = re.compile(r"joining network namespace of container ([0-9a-f]{12})[0-9a-f]*")


def _explain(url: str, path: str, exc: Exception) -> str:
    """One line naming the cause. podman 4.3 cannot list *any* container while one of
    them lost its network namespace (``podman ps`` fails too): say which and how to mend."""
    text = str(exc)
    if m := _VANISHED_NETNS.search(text):
        short = m.group(1)
        return (
            f"podman cannot list containers: the network namespace of container {short} "
            f"vanished (`podman ps` fails too); `podman rm -f {short}` (run it again if it "
            "times out) mends podman and leaves exactly the stale DNS line aardcheck fixes"
        )
    return f"podman API at {url}: {path} failed: {text}"


def _process_exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))  # a zombie is gone too


def mark_gone_processes(containers: tuple[Container, ...]) -> tuple[Container, ...]:
    """Flag containers podman lists as up whose process no longer exists.

    Pids are podman's; they mean something here only when this process shares podman's
    pid namespace. When *no* listed pid exists (aardcheck in a container talking to the
    host's socket, say), nothing is flagged: a line is never called dead on that alone.
    """
    up = [c for c in containers if c.state in NETWORK_UP_STATES and c.pid > 0]
    gone = {c.id for c in up if not _process_exists(c.pid)}
    if not gone or len(gone) == len(up):
        return containers
    return tuple(replace(c, process_gone=True) if c.id in gone else c for c in containers)


@dataclass(frozen=True, slots=True)
class HostInfo:
    podman_version: str
    rootless: bool
    run_root: Path
    network_backend: str
    uid: int
    graph_root: Path = Path()


def _owner(path: Path) -> int:
    """The user a rootless API serves (root may talk to a user's socket): its run root's."""
    try:
        return path.stat().st_uid
    except OSError:
        return os.geteuid()


def default_socket_url() -> str:
    """Where podman's API listens by default for this user (podman-py guesses wrong for root)."""
    if env := os.environ.get("CONTAINER_HOST"):
        return env
    if os.geteuid() == 0:
        return "unix:///run/podman/podman.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix://{runtime_dir}/podman/podman.sock"


def _socket_path(url: str) -> Path | None:
    prefix = "unix://"
    return Path(url[len(prefix) :]) if url.startswith(prefix) else None


class PodmanSession:
    """One connection to the API; counts requests so benchmarks can show the call pattern."""

    def __init__(self, url: str, *, timeout: float, private: bool) -> None:
        from podman import PodmanClient  # heavy import (~200 ms): only when podman is needed

        self.url = url
        self.private = private
        self.requests = 0
        self._lock = threading.Lock()
        self._alias_dir: Path | None = None
        self.client = PodmanClient(base_url=self._client_url(url), timeout=timeout)
        self.client.api.hooks["response"].append(self._count)

    def _client_url(self, url: str) -> str:
        """The podman package cannot address a socket path holding spaces, control or
        other non-URL characters; such a path is reached through a plain-named symlink."""
        sock = _socket_path(url)
        if sock is None or re.fullmatch(r"[A-Za-z0-9_./+@:-]+", str(sock)):
            return url
        self._alias_dir = Path(tempfile.mkdtemp(prefix="aardcheck-sock-"))
        alias = self._alias_dir / "podman.sock"
        alias.symlink_to(sock)
        return f"unix://{alias}"

    def _count(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.requests += 1
        return response

    def _get_json(self, path: str, *, compatible: bool = False, **params: Any) -> Any:
        from podman.errors import APIError

        try:
            response = self.client.api.get(path, params=params or None, compatible=compatible)
            response.raise_for_status()
            return response.json()
        except APIError as exc:
            raise EnvironmentUnavailable(_explain(self.url, path, exc)) from exc
        except Exception as exc:  # requests' own errors are not OSError subclasses in every case
            raise EnvironmentUnavailable(f"podman API at {self.url}: {path} failed: {exc}") from exc

    def ping(self) -> bool:
        try:
            response = self.client.api.get("/_ping", timeout=3)
        except Exception:  # any failure means "not usable here"; the caller says what to do
            return False
        return bool(response.ok)

    def host_info(self) -> HostInfo:
        info = self._get_json("/info")
        host, store = info.get("host", {}), info.get("store", {})
        rootless = bool(host.get("security", {}).get("rootless", os.geteuid() != 0))
        run_root = Path(str(store.get("runRoot", "")))
        return HostInfo(
            podman_version=str(info.get("version", {}).get("Version", "")),
            rootless=rootless,
            run_root=run_root,
            network_backend=str(host.get("networkBackend", "")),
            uid=_owner(run_root) if rootless else 0,
            graph_root=Path(str(store.get("graphRoot", ""))),
        )

    def container_states(self) -> tuple[Container, ...]:
        """Every container's id, name and state in one libpod call: what a repair re-checks
        while it holds podman's netavark lock. Only this listing is safe there: podman
        5.4's Docker-compatible container listing and every network listing wait for that
        lock inside podman (until the client times out); podman 4.3's compatible
        container listing did not."""
        listing = self._get_json("/containers/json", all="true")
        return mark_gone_processes(states_from_libpod(listing))

    def containers(self) -> tuple[Container, ...]:
        """Containers with their per-network addresses and aliases (two listings). Not
        under the netavark lock: see ``container_states``."""
        details = details_from_libpod(self._get_json("/containers/json", all="true"))
        listing = self._get_json("/containers/json", compatible=True, all="true")
        return mark_gone_processes(containers_from_compat(listing, details))

    def state(self) -> PodmanState:
        """Every container and network in three list calls, never one per object.

        Two container listings because neither alone has both the per-network addresses
        (Docker-compatible endpoint) and the pid and pod membership (libpod endpoint).
        """
        containers = self.containers()
        networks = self._get_json("/networks/json")
        return PodmanState(
            containers=containers,
            networks=networks_from_libpod(networks),
            api_requests=self.requests,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()  # type: ignore[no-untyped-call]
        if self._alias_dir is not None:
            shutil.rmtree(self._alias_dir, ignore_errors=True)


def _start_private_service(timeout: float) -> tuple[subprocess.Popen[bytes], str, Path]:
    podman = shutil.which("podman")
    if podman is None:
        raise EnvironmentUnavailable("podman is not installed (no `podman` on PATH)")
    tmp = Path(tempfile.mkdtemp(prefix="aardcheck-api-"))
    sock = tmp / "podman.sock"
    url = f"unix://{sock}"
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV_DROP}
    proc = subprocess.Popen(
        [podman, "system", "service", f"--time={SERVICE_IDLE_EXIT}", url],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C at the terminal must not kill it before we clean up
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.exists():
            return proc, url, tmp
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
            shutil.rmtree(tmp, ignore_errors=True)
            last = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
            raise EnvironmentUnavailable(f"could not start `podman system service`: {last}")
        time.sleep(0.02)
    _stop_private_service(proc, tmp)
    raise EnvironmentUnavailable(f"`podman system service` did not listen within {timeout:.0f} s")


def _stop_private_service(proc: subprocess.Popen[bytes], tmp: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stderr:
        proc.stderr.close()
    shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def connect(url: str | None = None, *, timeout: float = 30.0) -> Iterator[PodmanSession]:
    """A live API session. With no ``url``, the default socket or else a private service.

    An explicit ``url`` that does not answer is an error (the user asked for that one).
    """
    target = url or default_socket_url()
    session = PodmanSession(target, timeout=timeout, private=False)
    if session.ping():
        try:
            yield session
        finally:
            session.close()
        return
    session.close()
    sock = _socket_path(target)
    if url is not None:
        raise EnvironmentUnavailable(f"podman API does not answer at {url}")
    if sock is None:
        raise EnvironmentUnavailable(f"podman API does not answer at {target} (CONTAINER_HOST)")
    proc, private_url, tmp = _start_private_service(SERVICE_START_TIMEOUT)
    try:
        session = PodmanSession(private_url, timeout=timeout, private=True)
        if not _wait_ping(session, SERVICE_START_TIMEOUT):
            raise EnvironmentUnavailable(f"private podman API at {private_url} does not answer")
        try:
            yield session
        finally:
            session.close()
    finally:
        _stop_private_service(proc, tmp)


def _wait_ping(session: PodmanSession, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session.ping():
            return True
        time.sleep(0.05)
    return False
