"""A teardown that cannot write: the stale-line recipe that works on netavark 1.14 too.

netavark 1.14 removes a container's DNS line even when its network namespace vanished
(the recipe of ``recipes.make_vanished_netns_stale`` then leaves nothing), but it cannot
remove it from a file it cannot write - as on a full or read-only run directory. The
network's file is bind-mounted read-only onto itself for the container's removal only:
podman logs ``netavark: remove aardvark entries: IO error: Read-only file system``, the
container is gone, its line stays. No byte of the file is edited by the harness.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tests.realpodman.proc import HarnessError, RecipeError, run_command
from tests.realpodman.recipes import (
    PlantedStale,
    _finish,
    _stale_networks,
    _user_aliases,
    remove_dead_container,
)

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost

_READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"'


@contextlib.contextmanager
def read_only(host: PodmanHost, files: list[Path]) -> Iterator[None]:
    """``files`` read-only for podman (inside its user namespace when rootless)."""
    done: list[Path] = []
    try:
        for path in files:
            if host.rootless:
                host.unshare("sh", "-c", _READ_ONLY, "sh", path, timeout=60)
            else:
                run_command(["sh", "-c", _READ_ONLY, "sh", str(path)], timeout=60)
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            if host.rootless:
                host.unshare("umount", path, timeout=60, check=False)
            else:
                run_command(["umount", str(path)], timeout=60, check=False)


def make_failed_teardown_stale(host: PodmanHost, container: str) -> PlantedStale:
    """``podman rm -f`` a running container while its networks' files are read-only."""
    started = time.monotonic()
    container = host.session.qualify(container)
    info = host.container(container)
    if not info.running:
        raise HarnessError(f"{container} must be running")
    files = [host.aardvark_file(n) for n in info.ips if host.aardvark_file(n).exists()]
    if not files:
        raise HarnessError(f"{container} has no aardvark file to keep its line")
    with read_only(host, files):
        tries = remove_dead_container(host, container)
    networks = _stale_networks(host, info, info.ips)
    if not networks:
        raise RecipeError(f"no aardvark file kept {container}'s line after a failed teardown")
    return PlantedStale(
        recipe="failed-teardown",
        container_name=container,
        container_id=info.id,
        networks=networks,
        ips=dict(info.ips),
        aliases=_user_aliases(info, networks[0]),
        seconds=_finish(host, "failed-teardown", started),
        tries=tries,
    )
