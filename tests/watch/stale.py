"""The natural stale entry, made certainly dead.

``make_vanished_netns_stale`` leaves the container's line behind; but while any podman
API service still holds the vanished namespace open (they keep every listed container's
netns open until they list again), its veth lives on and the address still answers: the
line is then ``unknown-entry``, not ``dead-entry``. Deleting the host side of the veth
pair makes the address silent whoever holds the namespace.
"""

from __future__ import annotations

from tests.realpodman import PodmanHost
from tests.realpodman.recipes import PlantedStale


def _links(host: PodmanHost) -> list[str]:
    argv = ["ip", "-o", "link", "show"]
    if host.rootless:
        return host.podman("unshare", "--rootless-netns", *argv).stdout.splitlines()
    return host.exec(*argv).stdout.splitlines()


def _delete_link(host: PodmanHost, ifindex: int) -> None:
    for line in _links(host):
        number, _, rest = line.partition(": ")
        if number.strip() == str(ifindex):
            name = rest.split(":", 1)[0].split("@", 1)[0]
            argv = ["ip", "link", "del", name]
            if host.rootless:
                host.podman("unshare", "--rootless-netns", *argv, check=False)
            else:
                host.exec(*argv, check=False)
            return


def plant_dead_stale(host: PodmanHost, container: str) -> PlantedStale:
    """A vanished-netns stale line whose address nothing answers any more."""
    iflink = host.podman("exec", container, "cat", "/sys/class/net/eth0/iflink").stdout
    stale = host.make_natural_stale(container)
    _delete_link(host, int(iflink.strip()))
    return stale
