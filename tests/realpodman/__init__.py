"""Real-podman test harness: hosts, stale-entry recipes, DNS probes, cleanup.

Tests get hosts from the fixtures in ``tests/conftest.py`` (``rootful_host``,
``rootless_host``, ``net_name``; using one marks the test ``podman``/``rootless``)
and import the rest from here::

    from tests.realpodman import PodmanHost, run_aardcheck

    def test_finds_a_vanished_container(rootful_host: PodmanHost, net_name) -> None:
        host = rootful_host
        net = host.network_create(net_name("web"))
        doomed = host.run(host.session.new_name("a"), {net: ["app"]})
        stale = host.make_natural_stale(doomed.name)
        live = host.run(host.session.new_name("b"), {net: ["app"]})
        dead, alive = stale.ips[net], live.ips[net]
        assert host.wait_for_answers(net, "app", {dead, alive}) == {dead, alive}
        with host.api_service() as url:
            result = run_aardcheck("check", "--url", url, host=host)

Everything created carries the session prefix (``aardtest-<6 hex>-``) and is removed at
the end of the session, also after failures (fixture finalizer, atexit, SIGTERM; a
session killed outright is reaped by the next one).
"""

from tests.realpodman.api import api_service
from tests.realpodman.availability import (
    in_ci,
    podman_unavailable_reason,
    rootless_unavailable_reason,
)
from tests.realpodman.dns import DnsProbeError
from tests.realpodman.host import PodmanHost
from tests.realpodman.invoke import aardcheck_env, run_aardcheck
from tests.realpodman.lifecycle import close_session, current_session, open_session
from tests.realpodman.model import ContainerInfo, NetworkSpec
from tests.realpodman.proc import (
    CommandError,
    CommandTimeout,
    HarnessError,
    RecipeError,
    run_command,
    wait_until,
)
from tests.realpodman.recipes import PlantedStale, ReusedSubnet, flush_bridge
from tests.realpodman.session import IMAGE, HarnessSession
from tests.realpodman.users import RootlessUser, create_user, remove_user

__all__ = [
    "IMAGE",
    "CommandError",
    "CommandTimeout",
    "ContainerInfo",
    "DnsProbeError",
    "HarnessError",
    "HarnessSession",
    "NetworkSpec",
    "PlantedStale",
    "PodmanHost",
    "RecipeError",
    "ReusedSubnet",
    "RootlessUser",
    "aardcheck_env",
    "api_service",
    "close_session",
    "create_user",
    "current_session",
    "flush_bridge",
    "in_ci",
    "open_session",
    "podman_unavailable_reason",
    "remove_user",
    "rootless_unavailable_reason",
    "run_aardcheck",
    "run_command",
    "wait_until",
]
