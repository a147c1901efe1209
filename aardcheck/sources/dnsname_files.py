"""Find and read the dnsname CNI plugin's run directory (the only I/O of the CNI backend's
check). Layout, per the plugin's ``config.go`` (``dnsNameConfPath``/``makePath``):
``$XDG_RUNTIME_DIR/containers/cni/dnsname/NET/`` when the plugin ran with
``XDG_RUNTIME_DIR`` set, else ``/run/containers/cni/dnsname/NET/``. Files are read with
the aardvark reader's rules (no symlink followed, bounded, re-read while changing).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from aardcheck.dnsname.hosts_format import parse_conf, parse_hosts
from aardcheck.dnsname.model import (
    CONF_FILE,
    HOSTS_FILE,
    PID_FILE,
    DnsmasqConf,
    DnsnameNetwork,
    DnsnameRoot,
)
from aardcheck.errors import EnvironmentUnavailable
from aardcheck.sources.aardvark_files import UnreadableFile, read_network_file

ROOTFUL_DNSNAME_DIR = Path("/run/containers/cni/dnsname")
#: A pid file holds a decimal number; anything longer is not one.
_PID_FILE_MAX = 64


def dnsname_dir_for(*, rootless: bool, xdg_runtime_dir: str | None) -> Path:
    """Where the plugin keeps its networks for this podman (the plugin's own rule).

    Rootful: ``/run/...``, as when podman runs without XDG_RUNTIME_DIR (a root shell, a
    systemd service); a rootful podman started with it set writes under that directory
    instead, which cannot be known from outside - pass the directory explicitly then."""
    if rootless and xdg_runtime_dir:
        return Path(xdg_runtime_dir) / "containers" / "cni" / "dnsname"
    return ROOTFUL_DNSNAME_DIR


def _pid(path: Path) -> int | None:
    try:
        text = read_network_file(path, _PID_FILE_MAX).decode("ascii", "replace").strip()
    except UnreadableFile:
        return None
    return int(text) if text.isdigit() and int(text) > 1 else None


def _conf(path: Path) -> DnsmasqConf | None:
    try:
        return parse_conf(read_network_file(path).decode("utf-8", "replace"))
    except UnreadableFile:
        return None


def read_dnsname_network(path: Path) -> DnsnameNetwork:
    """One ``dnsname/NET/`` directory; an unreadable ``addnhosts`` is reported, not raised."""
    conf = _conf(path / CONF_FILE)
    pid = _pid(path / PID_FILE)
    try:
        content = read_network_file(path / HOSTS_FILE)
    except UnreadableFile as err:
        missing = not os.path.lexists(path / HOSTS_FILE)
        return DnsnameNetwork(
            network=path.name,
            path=path,
            has_hosts=not missing,
            conf=conf,
            pid=pid,
            # no addnhosts at all is what an idle network looks like mid-teardown: no lines
            unreadable="" if missing else str(err).removeprefix(f"{path / HOSTS_FILE}: "),
        )
    return DnsnameNetwork(
        network=path.name,
        path=path,
        lines=parse_hosts(content),
        hosts_content=content,
        conf=conf,
        pid=pid,
    )


def read_dnsname_root(root: Path) -> DnsnameRoot:
    """Every network directory under ``root``; a missing root means no dnsname network
    has ever had a container since boot (the plugin creates it on the first add)."""
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return DnsnameRoot(path=root, exists=False)
    except OSError as err:
        raise EnvironmentUnavailable(f"nothing checked: {root}: {err.strerror}") from None
    networks: list[DnsnameNetwork] = []
    odd: list[tuple[Path, str]] = []
    for name in names:
        path = root / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue  # removed by the plugin's teardown meanwhile
        if stat.S_ISDIR(mode):
            networks.append(read_dnsname_network(path))
        else:
            odd.append((path, "not a network directory (not followed)"))
    return DnsnameRoot(path=root, exists=True, networks=tuple(networks), odd=tuple(odd))
