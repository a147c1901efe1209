"""Field recipes that make real podman leave stale aardvark-dns lines, no file hand-edited.

Each recipe is what was seen happening on real hosts (shared/ENVIRONMENT.md), driven
to a deterministic end: it verifies the stale line is really in the file before
returning, raises RecipeError otherwise, and records its duration in the session.
Every loop is bounded in tries and in time.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.realpodman.proc import HarnessError, RecipeError, run_command, wait_until
from tests.realpodman.session import IMAGE

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost
    from tests.realpodman.model import ContainerInfo

#: ``podman rm -f`` of a container whose netns vanished may fail once, then works.
RM_TRIES = 4
RM_TIME_LIMIT = 150.0
SIBLING_TRIES = 12
SIBLING_TIME_LIMIT = 120.0
UMOUNT_BUSY_WAIT = 10.0


@dataclass(frozen=True)
class PlantedStale:
    """A DNS line that outlived its container, as a recipe left it."""

    recipe: str
    container_name: str
    container_id: str
    #: networks whose aardvark-dns file still holds the container's line
    networks: tuple[str, ...]
    #: the dead container's IPv4 address per network (as it was)
    ips: dict[str, str]
    #: the aliases it had (besides its name and short id)
    aliases: tuple[str, ...]
    seconds: float
    tries: int = 1

    @property
    def short_id(self) -> str:
        """The 12-character id that the stale line also carries as a name."""
        return self.container_id[:12]


@dataclass(frozen=True)
class ReusedSubnet:
    """Orphan aardvark lines of ``old_network``, whose subnet ``new_network`` reuses.

    aardvark 1.4 picks the networks to answer from by the asker's address: a container
    of ``new_network`` at ``shared_ip`` (an address a dead line of the old file holds)
    also gets the old file's records, so ``stale``'s aliases answer its dead address.
    """

    stale: PlantedStale
    bystander: PlantedStale
    old_network: str
    new_network: str
    subnet: str
    #: the address that links the two networks: run the asking container there
    shared_ip: str


def _finish(host: PodmanHost, recipe: str, started: float) -> float:
    seconds = time.monotonic() - started
    host.session.record_timing(f"{recipe} ({'rootless' if host.rootless else 'rootful'})", seconds)
    return seconds


def _stale_networks(
    host: PodmanHost, info: ContainerInfo, networks: Iterable[str]
) -> tuple[str, ...]:
    return tuple(n for n in networks if info.id.lower() in host.aardvark_ids(n))


def _kill(pid: int) -> None:
    if pid > 0:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


def remove_dead_container(host: PodmanHost, name: str) -> int:
    """``podman rm -f -t 0`` until the container is gone (may fail once after a vanish).

    Returns the number of tries; raises HarnessError past RM_TRIES or RM_TIME_LIMIT.
    """
    deadline = time.monotonic() + RM_TIME_LIMIT
    for attempt in range(1, RM_TRIES + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        host.podman("rm", "-f", "-t", "0", name, check=False, timeout=min(90.0, remaining))
        if not host.container_exists(name):
            return attempt
    raise HarnessError(f"container {name} survived {RM_TRIES} tries of podman rm -f")


def make_vanished_netns_stale(host: PodmanHost, container: str) -> PlantedStale:
    """A running container's network namespace vanishes under podman.

    kill -9 its conmon and its process, unmount and delete its SandboxKey (inside the
    user namespace for rootless), then ``podman rm -f`` (retried): netavark cannot enter
    the namespace, so teardown fails and every network file keeps the line.
    """
    started = time.monotonic()
    container = host.session.qualify(container)
    info = host.container(container)
    if not info.running or not info.sandbox_key:
        raise HarnessError(f"{container} must be running with its own netns")
    _kill(info.conmon_pid)
    _kill(info.pid)
    wait_until(
        lambda: _gone(info.pid) and _gone(info.conmon_pid),
        timeout=15,
        what=f"{container}'s processes to die",
    )
    if host.rootless:
        script = '{ umount "$1" || umount --lazy "$1"; } && rm -f "$1"'
        host.unshare("sh", "-c", script, "sh", info.sandbox_key, timeout=60)
    else:
        # A long-running podman API service (a watcher's, another test's) holds the
        # netns of every container it listed: plain umount says "target is busy" until it
        # lists again. Retry a while (a dead netns is what the recipe promises), then
        # detach lazily as podman's own teardown does (the netns may then live on).
        unmounted = False
        with contextlib.suppress(HarnessError):
            unmounted = wait_until(
                lambda: run_command(["umount", info.sandbox_key], check=False).returncode == 0,
                timeout=UMOUNT_BUSY_WAIT,
                what=f"umount {info.sandbox_key}",
            )
        if not unmounted:
            run_command(["umount", "-l", info.sandbox_key], timeout=30)
        Path(info.sandbox_key).unlink(missing_ok=True)
    tries = remove_dead_container(host, container)
    networks = _stale_networks(host, info, info.ips)
    if not networks:
        raise RecipeError(f"no aardvark file kept {container}'s line after its netns vanished")
    return PlantedStale(
        recipe="vanished-netns",
        container_name=container,
        container_id=info.id,
        networks=networks,
        ips=dict(info.ips),
        aliases=_user_aliases(info, networks[0]),
        seconds=_finish(host, "vanished-netns", started),
        tries=tries,
    )


def _user_aliases(info: ContainerInfo, network: str) -> tuple[str, ...]:
    return tuple(a for a in info.aliases.get(network, ()) if a not in (info.short_id, info.name))


def make_missing_sibling_stale(
    host: PodmanHost, net_a: str, net_b: str, *, aliases: Sequence[str] = ("app",)
) -> PlantedStale:
    """A container on A and B; A's aardvark file is deleted; ``podman rm -f`` it.

    netavark stops at the first missing file; when it tears A down first, B keeps the
    line. The order varies (about one try in two here): repeat with fresh containers,
    at most SIBLING_TRIES times within SIBLING_TIME_LIMIT. A's file is deleted, so
    A's other containers lose their lines too: give A no other members.
    """
    started = time.monotonic()
    net_a, net_b = host.session.qualify(net_a), host.session.qualify(net_b)
    deadline = started + SIBLING_TIME_LIMIT
    for attempt in range(1, SIBLING_TRIES + 1):
        if time.monotonic() > deadline:
            break
        info = host.run(host.session.new_name("sibling"), {net_a: aliases, net_b: aliases})
        host.aardvark_file(net_a).unlink(missing_ok=True)
        remove_dead_container(host, info.name)
        if _stale_networks(host, info, [net_b]):
            return PlantedStale(
                recipe="missing-sibling",
                container_name=info.name,
                container_id=info.id,
                networks=(net_b,),
                ips=dict(info.ips),
                aliases=tuple(aliases),
                seconds=_finish(host, "missing-sibling", started),
                tries=attempt,
            )
    raise RecipeError(f"{net_b} never kept a stale line in {SIBLING_TRIES} tries")


def make_foreign_store_network_rm(
    host: PodmanHost, network: str, *, remove_containers: bool = True
) -> list[PlantedStale]:
    """``podman --root X --runroot Y network rm N`` while the default store uses N.

    Rootful network definitions are shared by every store, so N disappears under its
    containers; with ``remove_containers`` they are then ``rm -f``'d: teardown fails and
    their DNS lines, the bridge and the iptables rules leak. Returns one PlantedStale
    per removed container (none when ``remove_containers`` is False). Session cleanup
    restores N's saved definition so that nothing stays leaked.
    """
    if host.rootless:
        raise HarnessError("rootless network definitions live in the store: nothing shared")
    started = time.monotonic()
    network = host.session.qualify(network)
    host.session.save_network_definition(network, host.network_definition(network))
    members = [host.container(m) for m in host.members(network, running_only=False)]
    foreign = host.session.scratch_dir("foreign-store-")
    try:
        host.podman(
            "--root", foreign / "root", "--runroot", foreign / "runroot", "network", "rm", network
        )
    finally:
        remove_tree(foreign)
    if not remove_containers:
        _finish(host, "foreign-store-network-rm", started)
        return []
    planted: list[PlantedStale] = []
    for info in members:
        tries = remove_dead_container(host, info.name)
        if not _stale_networks(host, info, [network]):
            raise RecipeError(f"{network}'s file lost {info.name}'s line")
        planted.append(
            PlantedStale(
                recipe="foreign-store-network-rm",
                container_name=info.name,
                container_id=info.id,
                networks=_stale_networks(host, info, info.ips),
                ips=dict(info.ips),
                aliases=_user_aliases(info, network),
                seconds=0.0,
                tries=tries,
            )
        )
    seconds = _finish(host, "foreign-store-network-rm", started)
    return [_with_seconds(p, seconds) for p in planted]


def _with_seconds(planted: PlantedStale, seconds: float) -> PlantedStale:
    return PlantedStale(**{**planted.__dict__, "seconds": seconds})


def remove_tree(path: Path) -> None:
    """rm -rf a scratch tree, unmounting anything mounted below it first."""
    for mount_point in sorted(mounts_below(path), key=len, reverse=True):
        run_command(["umount", "-l", mount_point], check=False, timeout=30)
    shutil.rmtree(path, ignore_errors=True)


def mounts_below(path: Path) -> list[str]:
    """Mount points (in this mount namespace) at or below ``path``."""
    prefix = str(path).rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return points


def bridge_ports(host: PodmanHost, network: str) -> list[str]:
    """Interfaces enslaved to a network's bridge (in the rootless netns for rootless)."""
    bridge = str(host.network_inspect(network).get("network_interface") or "")
    if not bridge:
        return []
    proc = host.in_network_namespace("ip", "-o", "link", "show", "master", bridge, check=False)
    ports = []
    for line in proc.stdout.splitlines():
        fields = line.split(":", 2)
        if len(fields) == 3:
            ports.append(fields[1].strip().split("@", 1)[0])
    return ports


def drop_dead_ports(host: PodmanHost, network: str) -> list[str]:
    """Delete a member-less network's bridge ports; returns their names.

    A dead container's namespace lives on while any process keeps it open (a running
    ``podman system service`` keeps every container's), and with it its veth on the
    bridge: the bridge then outlives the network and its subnet counts as used on the
    host. Call only when the network has no live member: every port is then dead.
    """
    ports = bridge_ports(host, network)
    for port in ports:
        host.in_network_namespace("ip", "link", "del", port, check=False)
    return ports


def flush_bridge(host: PodmanHost, network: str) -> None:
    """Run and remove one container on ``network``: its teardown drops an idle bridge.

    When a vanished container was a network's only member, its bridge and iptables
    rules stay; the last teardown on the network removes them (the stale DNS line stays).
    """
    host.podman(
        "run", "--rm", "--network", host.session.qualify(network), IMAGE, "sleep", "0", timeout=120
    )


def make_orphan_file(
    host: PodmanHost,
    network: str,
    *,
    aliases: Sequence[str] = ("app",),
    ip: str | None = None,
) -> PlantedStale:
    """A stale line, then ``podman network rm -f``: the file outlives its network.

    Runs a container on ``network`` (which should have no other live members: ``rm -f``
    stops them), makes its netns vanish, lets one short-lived container drop the idle
    bridge, and removes the network. Re-creating a network of that name brings the
    stale line back to life (new members are appended to the same file).
    """
    started = time.monotonic()
    (planted,) = _orphan_lines(host, network, [(aliases, ip)])
    return _renamed(planted, "orphan-file", _finish(host, "orphan-file", started))


def _orphan_lines(
    host: PodmanHost, network: str, specs: Sequence[tuple[Sequence[str], str | None]]
) -> list[PlantedStale]:
    network = host.session.qualify(network)
    infos = [
        host.run(host.session.new_name("orphan"), {network: aliases}, ip=ip)
        for aliases, ip in specs
    ]
    planted = [host.make_natural_stale(info.name) for info in infos]
    if [m for m in host.members(network) if m not in {i.name for i in infos}]:
        raise HarnessError(f"{network} has live members: network rm -f would stop them")
    drop_dead_ports(host, network)
    flush_bridge(host, network)
    host.network_rm(network, force=True)
    if not {info.id.lower() for info in infos} <= host.aardvark_ids(network):
        raise RecipeError(f"{network}'s aardvark file did not survive network rm -f")
    return [PlantedStale(**{**p.__dict__, "networks": (network,)}) for p in planted]


def _renamed(planted: PlantedStale, recipe: str, seconds: float) -> PlantedStale:
    return PlantedStale(**{**planted.__dict__, "recipe": recipe, "seconds": seconds})


@contextlib.contextmanager
def forgetting_orphan(host: PodmanHost, network: str) -> Iterator[None]:
    """Delete ``network``'s orphan file when the block ends, also on failure: on aardvark
    1.12+ it shares a live gateway and would stop the resolver's next start for every
    later test of the session (session cleanup would remove it only at the end)."""
    try:
        yield
    finally:
        host.aardvark_file(network).unlink(missing_ok=True)


def make_reused_subnet_stale(
    host: PodmanHost,
    old_network: str,
    new_network: str,
    *,
    aliases: Sequence[str] = ("app",),
) -> ReusedSubnet:
    """``old_network`` leaves an orphan file; ``new_network`` is created on its subnet.

    The old file keeps two dead lines: ``aliases`` at host address .200 and a bystander
    at .2 (the first address podman hands out on the new network). Run the asking
    container of ``new_network`` at ``shared_ip`` (.2): asking for an alias it then
    gets the dead .200 too (aardvark 1.4 matches the asker's address in every file).
    """
    started = time.monotonic()
    subnet = host.free_subnet()
    old_network = host.network_create(old_network, subnet=subnet)
    hosts = ipaddress.ip_network(subnet)
    dead_ip, shared_ip = str(hosts[200]), str(hosts[2])
    stale, bystander = _orphan_lines(host, old_network, [(aliases, dead_ip), ((), shared_ip)])
    new_network = host.network_create(new_network, subnet=subnet)
    seconds = _finish(host, "reused-subnet", started)
    return ReusedSubnet(
        stale=_renamed(stale, "reused-subnet", seconds),
        bystander=_renamed(bystander, "reused-subnet", seconds),
        old_network=old_network,
        new_network=new_network,
        subnet=subnet,
        shared_ip=shared_ip,
    )
