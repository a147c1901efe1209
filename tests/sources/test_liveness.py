"""check_liveness against real podman bridges: who answers ARP on the network."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from aardcheck.models import AddressLiveness, Liveness
from aardcheck.sources.liveness import LivenessRequest, check_liveness, check_liveness_many
from tests.realpodman import IMAGE, PodmanHost
from tests.realpodman.image import image_tar
from tests.realpodman.recipes import remove_tree

pytestmark = pytest.mark.podman


def bridge(host: PodmanHost, network: str) -> str:
    return str(host.network_inspect(network)["network_interface"])


def mac_of(host: PodmanHost, container: str, network: str) -> str:
    return str(host.inspect(container)["NetworkSettings"]["Networks"][network]["MacAddress"])


def test_a_live_container_is_alive_and_a_removed_one_silent(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("live"))
    live = host.run(host.session.new_name("live"), [net])
    gone = host.run(host.session.new_name("gone"), [net])
    host.rm(gone.name)
    started = time.monotonic()
    alive, silent = check_liveness(
        net, bridge(host, net), [ip_address(live.ips[net]), ip_address(gone.ips[net])], timeout=0.6
    )
    elapsed = time.monotonic() - started
    assert alive.liveness is Liveness.ALIVE
    assert mac_of(host, live.name, net) in alive.detail
    assert silent == AddressLiveness(
        net, ip_address(gone.ips[net]), Liveness.SILENT, f"no ARP reply on {bridge(host, net)} "
        "within 0.6 s", waited=0.6
    )  # fmt: skip
    assert 0.6 <= elapsed < 0.6 + 1.5


def test_live_addresses_do_not_wait_for_the_timeout(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("fast"))
    members = [host.run(host.session.new_name("m"), [net]) for _ in range(3)]
    started = time.monotonic()
    looked = check_liveness(net, bridge(host, net), [ip_address(m.ips[net]) for m in members])
    assert {x.liveness for x in looked} == {Liveness.ALIVE}
    assert time.monotonic() - started < 1.0  # the timeout is 1.5 s


def test_the_dead_address_of_a_vanished_netns_is_silent(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("vanish"))
    host.run(host.session.new_name("keep"), [net])  # keeps the bridge up
    dead = host.run(host.session.new_name("dead"), {net: ["app"]})
    host.make_natural_stale(dead.name)
    (looked,) = check_liveness(net, bridge(host, net), [ip_address(dead.ips[net])], timeout=0.5)
    assert looked.liveness is Liveness.SILENT


def test_an_absent_bridge_is_silent(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """netavark removes a network's bridge with its last container: nothing can answer."""
    net = rootful_host.network_create(net_name("nobr"))
    (seen,) = check_liveness(net, "aardtestnobr0", [ip_address("10.213.250.9")], timeout=0.3)
    assert seen.liveness is Liveness.SILENT and "is gone" in seen.detail


def test_a_look_that_cannot_be_taken_is_unknown(
    rootful_host: PodmanHost, net_name: Callable[[str], str], tmp_path: Path
) -> None:
    host = rootful_host
    net = host.network_create(net_name("unk"))
    address = ip_address(host.run(host.session.new_name("u"), [net]).ips[net])
    requests = [
        LivenessRequest(net, bridge(host, net), (address,), netns_path=str(tmp_path / "gone")),
        LivenessRequest(net, "", (address,)),
    ]
    looked = check_liveness_many(requests, timeout=0.3)
    assert [x.liveness for x in looked] == [Liveness.UNKNOWN] * 2
    assert "vanished" in looked[0].detail
    assert "no bridge interface" in looked[1].detail


@pytest.fixture
def foreign_store(rootful_host: PodmanHost) -> Iterator[Callable[..., str]]:
    """``podman --root X --runroot Y ...`` in a scratch store; emptied and removed after."""
    store = rootful_host.session.scratch_dir("store-")
    flags = ["--root", str(store / "root"), "--runroot", str(store / "runroot")]
    started: list[str] = []

    def podman(*args: str) -> str:
        if args[:1] == ("run",):
            started.append(args[args.index("--name") + 1])
        return rootful_host.podman(*flags, *args, timeout=180).stdout.strip()

    podman("import", "--quiet", str(image_tar(rootful_host.session.workdir)), IMAGE)
    try:
        yield podman
    finally:
        for name in started:
            rootful_host.podman(*flags, "rm", "-f", "-t", "0", name, check=False, timeout=90)
        remove_tree(store)


def test_a_container_of_another_store_on_the_network_is_alive(
    rootful_host: PodmanHost, net_name: Callable[[str], str], foreign_store: Callable[..., str]
) -> None:
    """The case this source exists for: the default store does not know the container."""
    host = rootful_host
    net = host.network_create(net_name("shared"))
    name = host.session.new_name("foreign")
    foreign_store("run", "-d", "--name", name, "--network", net, IMAGE, "sleep", "600")
    address = foreign_store(
        "inspect", name, "--format", f'{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}'
    )
    assert not host.container_exists(name)
    (looked,) = check_liveness(net, bridge(host, net), [ip_address(address)])
    assert looked.liveness is Liveness.ALIVE


@pytest.mark.rootless
def test_rootless_bridge_seen_by_root(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootless_host
    assert host.user is not None
    net = host.network_create(net_name("rl"))
    live = host.run(host.session.new_name("live"), [net])
    gone = host.run(host.session.new_name("gone"), [net])
    host.rm(gone.name)
    alive, silent = check_liveness(
        net,
        bridge(host, net),
        [ip_address(live.ips[net]), ip_address(gone.ips[net])],
        rootless_uid=host.user.uid,
        timeout=0.6,
    )
    assert alive.liveness is Liveness.ALIVE
    assert mac_of(host, live.name, net) in alive.detail
    assert silent.liveness is Liveness.SILENT


def test_ipv6_addresses_are_asked_by_neighbour_solicitation(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("six"), ipv6=True)
    live = host.run(host.session.new_name("live"), [net])
    gone = host.run(host.session.new_name("gone"), [net])
    v6 = [
        ip_address(host.inspect(c)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"])
        for c in (live.name, gone.name)
    ]
    host.rm(gone.name)
    alive, silent = check_liveness(net, bridge(host, net), v6, timeout=0.6)
    assert (alive.liveness, silent.liveness) == (Liveness.ALIVE, Liveness.SILENT)
    assert alive.detail.startswith(f"NDP reply from {mac_of(host, live.name, net)}")
