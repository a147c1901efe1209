"""Podman's REST API: the source of truth for what runs.

Finds the socket as podman itself would for root and rootless users; when nothing listens
there, starts a private ``podman system service`` on a temporary socket for this run only.

A unix socket is spoken to with the stdlib client in ``unix_http`` (why: its module
docstring); the ``podman`` package is imported only for other URLs and for the repair
that re-creates networks (``PodmanSession.client``).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aardcheck.errors import ApiTimeout, EnvironmentUnavailable
from aardcheck.models import NETWORK_UP_STATES, Container, PodmanState
from aardcheck.sources import prefetch
from aardcheck.sources.podman_host import (
    HostInfo,
    host_from_headers,
    host_from_info,
    socket_path,
)
from aardcheck.sources.podman_json import (
    containers_from_compat,
    details_from_libpod,
    networks_from_libpod,
    states_from_libpod,
)
from aardcheck.sources.prefetch import LIBPOD_FALLBACK
from aardcheck.sources.private_service import (
    SERVICE_START_TIMEOUT,
    default_socket_url,
    start_private_service,
    stop_private_service,
    take_prestarted,
)
from aardcheck.sources.proc import read_proc
from aardcheck.sources.unix_http import HttpError, HttpReply, UnixHttp, reply_from_bytes

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
        stat = read_proc(pid, "stat").decode(errors="replace")
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


class PodmanSession:
    """One connection to the API; counts requests so benchmarks can show the call pattern."""

    def __init__(self, url: str, *, timeout: float, private: bool) -> None:
        self.url = url
        self.private = private
        self.requests = 0
        self._timeout = timeout
        self._lock = threading.Lock()
        self._alias_dir: Path | None = None
        self._client: Any = None
        #: Headers of the first reply: podman says its version in every one.
        self._headers: dict[str, str] = {}
        #: When the listings taken from ``prefetch`` were asked (wall clock), if any were.
        self.prefetched_at: float | None = None
        sock = socket_path(url)
        self._http = UnixHttp(str(sock), timeout) if sock is not None else None

    @property
    def client(self) -> Any:
        """The ``podman`` package's client on the same URL (the re-create repair uses it)."""
        if self._client is None:
            from podman import PodmanClient  # ~100-180 ms: only where it is used

            self._client = PodmanClient(base_url=self._client_url(self.url), timeout=self._timeout)
            self._client.api.hooks["response"].append(self._count)
        return self._client

    def _client_url(self, url: str) -> str:
        """The podman package cannot address a socket path holding spaces, control or
        other non-URL characters; such a path is reached through a plain-named symlink."""
        sock = socket_path(url)
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

    def _target(self, path: str, compatible: bool, params: dict[str, Any]) -> str:
        if compatible:
            prefix = "/v1.40"
        else:
            prefix = f"/v{self._headers.get('libpod-api-version') or LIBPOD_FALLBACK}/libpod"
        return prefix + path + (f"?{urlencode(params)}" if params else "")

    def _get_json(
        self,
        path: str,
        *,
        compatible: bool = False,
        timeout: float | None = None,
        via: UnixHttp | None = None,
        early: bool = False,
        **params: Any,
    ) -> Any:
        """``early``: a reply ``prefetch`` asked for before the imports may stand in."""
        if self._http is None:
            return self._get_json_package(path, compatible, params)
        target = self._target(path, compatible, params)
        try:
            reply = (early and self._prefetched(target, timeout)) or (via or self._http).request(
                "GET", target, timeout=timeout
            )
        except HttpError as exc:
            text = f"podman API at {self.url}: {path} failed: {exc}"
            if isinstance(exc.__cause__, TimeoutError):
                raise ApiTimeout(text) from exc
            raise EnvironmentUnavailable(text) from exc
        self._count(None)  # requests answered, as the podman package's hook counted them
        self._headers = self._headers or reply.headers
        if reply.status >= 400:
            text = f"HTTP {reply.status} {reply.reason}: {reply.message()}"
            raise EnvironmentUnavailable(_explain(self.url, path, Exception(text)))
        try:
            return reply.json()
        except ValueError as exc:
            raise EnvironmentUnavailable(
                f"podman API at {self.url}: {path} failed: the answer is not JSON ({exc})"
            ) from exc

    def _get_json_package(self, path: str, compatible: bool, params: dict[str, Any]) -> Any:
        from podman.errors import APIError

        try:
            response = self.client.api.get(path, params=params or None, compatible=compatible)
            response.raise_for_status()
            return response.json()
        except APIError as exc:
            raise EnvironmentUnavailable(_explain(self.url, path, exc)) from exc
        except Exception as exc:  # requests' own errors are not OSError subclasses in every case
            raise EnvironmentUnavailable(f"podman API at {self.url}: {path} failed: {exc}") from exc

    def _prefetched(self, target: str, timeout: float | None = None) -> HttpReply | None:
        assert self._http is not None
        raw = prefetch.take(self._http.path, target, timeout or self._timeout)
        if raw is None:
            return None
        try:
            reply = reply_from_bytes(raw)
        except HttpError:
            return None  # asked again on the session's own connection
        self.prefetched_at = prefetch.asked_at(self._http.path)
        return reply

    def ping(self) -> bool:
        if self._http is None:
            try:
                response = self.client.api.get("/_ping", timeout=3)
            except Exception:  # any failure means "not usable here"; the caller says what to do
                return False
            self._headers = self._headers or dict(response.headers.lower_items())
            return bool(response.ok)
        target = self._target("/_ping", False, {})
        try:
            reply = self._prefetched(target, 3) or self._http.request("GET", target, timeout=3)
        except HttpError:
            return False  # a private service not listening yet: not a request it answered
        self._count(None)
        self._headers = self._headers or reply.headers
        return reply.status == 200

    def host_info(self, *, detailed: bool = False) -> HostInfo:
        """What a check needs to know about the host, without ``GET /info`` when podman's
        reply headers, the socket's owner and the usual paths say it unambiguously.

        ``/info`` costs ~300 ms on Debian (podman runs dpkg for conmon, runc and slirp4netns
        on every call, containers/podman#19317). ``detailed`` asks it anyway: repairs need
        the store's graph root, which only ``/info`` knows.
        """
        if not detailed and (quick := host_from_headers(self._headers, self.url)) is not None:
            return quick
        return host_from_info(self._get_json("/info"))

    def container_states(self, *, timeout: float | None = None) -> tuple[Container, ...]:
        """Every container's id, name and state in one libpod call: what a repair re-checks
        while it holds podman's netavark lock. Only this listing is safe there: podman
        5.4's Docker-compatible container listing and every network listing wait for that
        lock inside podman (until the client times out); podman 4.3's compatible
        container listing did not.

        Even this one waits for each container's own lock, which a podman request may hold
        while it waits for the netavark lock (podman 5.4's compatible listing does): a
        caller holding the netavark lock passes a short ``timeout`` and, on ApiTimeout,
        lets go of the lock before it asks again."""
        listing = self._get_json("/containers/json", timeout=timeout, all="true")
        return mark_gone_processes(states_from_libpod(listing))

    def containers(self, *, early: bool = False) -> tuple[Container, ...]:
        """Containers with their per-network addresses and aliases (two listings). Not
        under the netavark lock: see ``container_states``. ``early`` as in ``state``."""
        if self._http is None:
            libpod = self._get_json("/containers/json", all="true")
            listing = self._get_json("/containers/json", compatible=True, all="true")
        else:  # side by side on a second connection: each is ~30-40 ms of podman's time
            side = UnixHttp(self._http.path, self._timeout)
            got: dict[str, Any] = {}

            def libpod_listing() -> None:
                try:
                    got["value"] = self._get_json(
                        "/containers/json", via=side, early=early, all="true"
                    )
                except EnvironmentUnavailable as err:
                    got["error"] = err

            thread = threading.Thread(target=libpod_listing, daemon=True)
            thread.start()
            try:
                listing = self._get_json(
                    "/containers/json", compatible=True, early=early, all="true"
                )
            finally:
                thread.join()
                side.close()
            if "error" in got:
                raise got["error"]
            libpod = got["value"]
        details = details_from_libpod(libpod)
        return mark_gone_processes(containers_from_compat(listing, details))

    def state(self, *, early: bool = False) -> PodmanState:
        """Every container and network in three list calls, never one per object.

        Two container listings because neither alone has both the per-network addresses
        (Docker-compatible endpoint) and the pid and pod membership (libpod endpoint).
        ``early``: replies ``prefetch`` asked for may stand in (``prefetched_at`` says
        when they were asked).
        """
        self.prefetched_at = None  # set again by the replies taken from ``prefetch``
        containers = self.containers(early=early)
        networks = self._get_json("/networks/json", early=early)
        return PodmanState(
            containers=containers,
            networks=networks_from_libpod(networks),
            api_requests=self.requests,
        )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
        if self._alias_dir is not None:
            shutil.rmtree(self._alias_dir, ignore_errors=True)


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
    sock = socket_path(target)
    if url is not None:
        raise EnvironmentUnavailable(f"podman API does not answer at {url}")
    if sock is None:
        raise EnvironmentUnavailable(f"podman API does not answer at {target} (CONTAINER_HOST)")
    proc, private_url, tmp = take_prestarted(SERVICE_START_TIMEOUT) or start_private_service(
        SERVICE_START_TIMEOUT
    )
    try:
        session = PodmanSession(private_url, timeout=timeout, private=True)
        if not _wait_ping(session, SERVICE_START_TIMEOUT):
            raise EnvironmentUnavailable(f"private podman API at {private_url} does not answer")
        try:
            yield session
        finally:
            session.close()
    finally:
        stop_private_service(proc, tmp)


def _wait_ping(session: PodmanSession, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if session.ping():
            return True
        time.sleep(0.05)
    return False
