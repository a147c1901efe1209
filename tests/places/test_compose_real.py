"""``aardcheck compose``: pre-flight, then the real podman-compose (rootful)."""

from __future__ import annotations

import pytest

from tests.places.stack import Stack, aardcheck
from tests.realpodman import PodmanHost

pytestmark = pytest.mark.podman


def poisoned(host: PodmanHost) -> Stack:
    """A project whose network left an aardvark file with a dead line behind."""
    stack = Stack(host, "poisoned")
    stack.up()
    host.make_natural_stale(stack.container("web"))
    stack.down()
    assert host.read_aardvark_file(stack.network), "no leftover file"
    return stack


def test_compose_up_refuses_a_poisoned_project(rootful_host: PodmanHost) -> None:
    stack = poisoned(rootful_host)
    refused = aardcheck("compose", *stack.args, "up", "-d", host=rootful_host)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refusing `podman-compose up`" in refused.stderr
    assert str(rootful_host.aardvark_file(stack.network)) in refused.stderr
    assert stack.members() == [] and not rootful_host.network_exists(stack.network)


def test_compose_up_starts_a_clean_project(rootful_host: PodmanHost) -> None:
    stack = Stack(rootful_host, "clean")
    # the project name from the environment, as podman-compose itself would take it
    env = {"COMPOSE_PROJECT_NAME": stack.project}
    started = aardcheck("compose", "-f", str(stack.file), "up", "-d", host=rootful_host, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert sorted(stack.members()) == sorted(stack.container(s) for s in ("web", "db"))
    assert all(rootful_host.container(m).running for m in stack.members())
    # podman-compose's own exit code comes back unchanged (2: argparse usage error)
    bad = aardcheck("compose", *stack.args, "no-such-command", host=rootful_host)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
