"""Pre-flight against real podman and real podman-compose, rootful and rootless."""

from __future__ import annotations

import json

import pytest

from tests.places.stack import SERVICES, Stack, aardcheck
from tests.realpodman import PodmanHost

pytestmark = pytest.mark.podman


def answers(host: PodmanHost, stack: Stack, via: str) -> dict[str, list[str]]:
    """Every record each service name gets from inside the project's network."""
    return {svc: sorted(host.dig_records(stack.network, svc, via=via)) for svc in SERVICES}


def live_addresses(host: PodmanHost, stack: Stack) -> dict[str, list[str]]:
    return {svc: [host.container(stack.container(svc)).ips[stack.network]] for svc in SERVICES}


@pytest.mark.parametrize("who", ["rootful", pytest.param("rootless", marks=pytest.mark.rootless)])
def test_leftover_file_blocks_up_until_fixed(who: str, request: pytest.FixtureRequest) -> None:
    """The whole pre-flight flow, as root and as a user whose podman-compose project
    leaves its line behind (podman 4.3 and 5.4 alike: see ``make_natural_stale``)."""
    host: PodmanHost = request.getfixturevalue(f"{who}_host")
    stack = Stack(host)
    stack.up()
    web = host.container(stack.container("web"))
    stale = host.make_natural_stale(web.name)
    assert stack.network in stale.networks
    stack.down()
    leftover = host.aardvark_file(stack.network)
    assert not host.network_exists(stack.network)
    assert web.id in host.aardvark_ids(stack.network), "the recipe left no stale line"

    checked = aardcheck("preflight", *stack.args, "--format", "json", host=host)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    doc = json.loads(checked.stdout)
    orphan = [f for f in doc["findings"] if f["kind"] == "orphan-file"]
    assert [(f["network"], f["path"]) for f in orphan] == [(stack.network, str(leftover))]
    assert doc["networks"][0]["leftover_file"] == str(leftover)
    text = aardcheck("preflight", *stack.args, host=host)
    assert text.returncode == 1
    assert str(leftover) in text.stdout and "--fix" in text.stdout

    fixed = aardcheck("preflight", *stack.args, "--fix", host=host)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert not leftover.exists()
    again = aardcheck("preflight", *stack.args, host=host)
    assert again.returncode == 0, again.stdout + again.stderr

    stack.up()
    live = live_addresses(host, stack)
    for via in (stack.container("web"), stack.container("db")):
        assert answers(host, stack, via) == live
