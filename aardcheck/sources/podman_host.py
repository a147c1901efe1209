"""Which podman a session talks to: rootful or rootless, whose, its run root and its
network backend - from the first reply's headers, the socket's owner and the usual
paths when they say it unambiguously, else from ``GET /info``. And where podman's API
listens by default for this user.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aardcheck.sources.discovery import ROOTFUL_RUN_DIR

_SERVER = re.compile(r"Libpod/([0-9][0-9A-Za-z.+~-]*)")


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


#: The dnsname CNI plugin's rootful directory: its presence makes the backend ambiguous.
_ROOTFUL_DNSNAME = Path("/run/containers/cni/dnsname")


def _rootless_run_roots(uid: int) -> list[Path]:
    """Where a rootless store's run root usually is: under the runtime directory, or under
    /tmp when the user's podman first ran without one (it then stays there)."""
    roots = [Path(f"/run/user/{uid}/containers")]
    if uid == os.geteuid() and (xdg := os.environ.get("XDG_RUNTIME_DIR")):
        roots.insert(0, Path(xdg) / "containers")
    roots.append(Path(f"/tmp/podman-run-{uid}/containers"))
    unique: dict[Path, Path] = {}
    for root in roots:
        with contextlib.suppress(OSError):
            unique.setdefault(root.resolve(), root)
    return list(unique.values())


def socket_path(url: str) -> Path | None:
    """The socket file of a ``unix://`` URL (None: another kind of URL)."""
    prefix = "unix://"
    return Path(url[len(prefix) :]) if url.startswith(prefix) else None


def host_from_info(info: Any) -> HostInfo:
    """The host as podman's ``GET /info`` describes it."""
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


def host_from_headers(headers: Mapping[str, str], url: str) -> HostInfo | None:
    """The host as the first reply's ``headers`` and the socket at ``url`` tell it.

    None when anything is ambiguous: no version header, a socket that is not a
    file here, a run root at none or several of the usual places, no sign of netavark."""
    server = _SERVER.search(headers.get("server", ""))
    version = server.group(1) if server else headers.get("libpod-api-version", "")
    sock = socket_path(url)
    if not version or sock is None:
        return None
    try:
        uid = sock.stat().st_uid  # a rootless service's socket is its user's
    except OSError:
        return None
    if uid == 0:
        # only netavark's aardvark-dns writes this directory: it is not a CNI host -
        # unless the dnsname CNI plugin has run here too (a store configured for CNI)
        if not (ROOTFUL_RUN_DIR / "aardvark-dns").is_dir() or _ROOTFUL_DNSNAME.is_dir():
            return None
        return HostInfo(version, False, Path("/run/containers/storage"), "netavark", 0)
    roots = _rootless_run_roots(uid)
    found = [r for r in roots if (r / "networks" / "aardvark-dns").is_dir()]
    # the dnsname CNI plugin has run for this user too: only /info can tell
    if len(found) != 1 or any((r / "cni" / "dnsname").is_dir() for r in roots):
        return None
    return HostInfo(version, True, found[0], "netavark", uid)
