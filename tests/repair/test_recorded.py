"""What counts as a network's definition when a re-create compares before and after."""

from __future__ import annotations

from aardcheck.repair.recorded import definition_of, same_definition

#: podman 5.4's libpod network inspect: it adds the attached ``containers`` (state, not
#: definition); podman 4.3's has no such key.
PODMAN5_INSPECT = {
    "name": "shop_default",
    "id": "fbc794b98c4e1f75b321da1de3cd263e1595ee1dcd2ff6d5d001a8977840949e",
    "driver": "bridge",
    "network_interface": "podman1",
    "created": "2026-12-06T14:47:43.443383771Z",
    "subnets": [{"subnet": "10.77.3.0/24", "gateway": "10.77.3.1"}],
    "ipv6_enabled": False,
    "internal": False,
    "dns_enabled": True,
    "labels": {"io.podman.compose.project": "shop"},
    "options": {"mtu": "1400"},
    "ipam_options": {"driver": "host-local"},
    "containers": {"4f1e": {"name": "shop_web_1", "interfaces": {"eth0": {}}}},
}


def test_attached_containers_are_not_part_of_the_definition() -> None:
    recreated = {**PODMAN5_INSPECT, "id": "0" * 64, "created": "later", "containers": {}}
    assert "containers" not in definition_of(PODMAN5_INSPECT)
    assert same_definition(PODMAN5_INSPECT, recreated)


def test_a_changed_option_is_another_definition() -> None:
    changed = {**PODMAN5_INSPECT, "options": {"mtu": "9000"}}
    assert not same_definition(PODMAN5_INSPECT, changed)
