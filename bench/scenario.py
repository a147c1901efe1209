"""The host the bench measures: N bridge networks x M busybox containers, grown in steps.

Built with the real-podman test harness (``tests/realpodman``): every name carries the
session prefix, and the session's cleanup removes everything (also after a failure, on
Ctrl-C or SIGTERM). Container ``b<n>m<m>`` runs on network ``net<n>`` with alias
``app<m>``: its names there are its container name, the alias and its short id.
"""

from __future__ import annotations

import functools
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.realpodman import ContainerInfo, PodmanHost, aardcheck_env, wait_until

#: Containers started at once while growing (podman serialises much of it anyway).
START_WORKERS = 3
#: How long netavark may take to write every line after the last ``podman run``.
SETTLE_TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[1]


@dataclass
class BenchNetwork:
    name: str
    members: list[ContainerInfo] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # container name -> alias

    def user_names(self) -> list[str]:
        """What a user looks up: every container name and alias on the network."""
        return [n for c in self.members for n in (c.name, self.aliases[c.name])]


class Scenario:
    def __init__(self, host: PodmanHost) -> None:
        self.host = host
        self.networks: list[BenchNetwork] = []
        self.build_seconds = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        per = min((len(n.members) for n in self.networks), default=0)
        return len(self.networks), per

    @property
    def network_names(self) -> list[str]:
        return [n.name for n in self.networks]

    def grow(self, networks: int, per_network: int) -> None:
        """Add networks and containers until there are ``networks`` x ``per_network``."""
        started = time.monotonic()
        self.host.ensure_image()
        while len(self.networks) < networks:
            name = self.host.network_create(f"net{len(self.networks)}")
            self.networks.append(BenchNetwork(name))
        wanted = [
            (net, index)
            for net in self.networks[:networks]
            for index in range(len(net.members), per_network)
        ]
        with ThreadPoolExecutor(max_workers=START_WORKERS) as pool:
            started_ones = list(pool.map(lambda job: self._start(*job), wanted))
        for net, info, alias in started_ones:
            net.members.append(info)
            net.aliases[info.name] = alias
        for net in self.networks:
            net.members.sort(key=lambda c: c.name)
        self._wait_for_lines()
        self.build_seconds += time.monotonic() - started

    def _start(self, net: BenchNetwork, index: int) -> tuple[BenchNetwork, ContainerInfo, str]:
        number = self.networks.index(net)
        alias = f"app{index}"
        info = self.host.run(f"b{number}m{index}", {net.name: [alias]})
        return net, info, alias

    def _wait_for_lines(self) -> None:
        for net in self.networks:
            wait_until(
                functools.partial(self._has_lines, net),
                timeout=SETTLE_TIMEOUT,
                what=f"every line of {net.name} in its aardvark-dns file",
            )

    def _has_lines(self, net: BenchNetwork) -> bool:
        return {c.id for c in net.members} <= self.host.aardvark_ids(net.name)

    # ---- running aardcheck and podman as a user would ---------------------------------

    def aardcheck_argv(self, *args: str) -> list[str]:
        """``python -m aardcheck ARGS`` on the bench's networks only."""
        selection = [a for n in self.network_names for a in ("--network", n)]
        return [sys.executable, "-m", "aardcheck", *args, *selection]

    def aardcheck_env(self, url: str | None, tree: Path = REPO) -> dict[str, str]:
        """aardcheck's environment: a running API service at ``url``, or (None) the host's
        default socket, where nothing listens here, so that aardcheck starts its private
        service (the check's JSON says which it used). ``tree`` holds the ``aardcheck``
        package to run (run it with ``tree`` as working directory: with ``-m``, that
        directory comes first on ``sys.path``)."""
        env = self.host.process_env(aardcheck_env(self.host, {"PYTHONPATH": str(tree)}))
        env.pop("CONTAINER_HOST", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: byte code cached
        return env
