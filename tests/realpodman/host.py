"""``PodmanHost``: real podman, rootful or as a throw-away rootless user, for tests.

Every name a ``PodmanHost`` creates gets the session prefix; removing anything without
it is refused. Each podman call gets the session's containers.conf via CONTAINERS_CONF.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from pathlib import Path
from typing import Any

from tests.realpodman import api, dns, failed_teardown, image, recipes, subnets
from tests.realpodman.model import ContainerInfo, NetworkSpec
from tests.realpodman.proc import (
    DEFAULT_TIMEOUT,
    CommandError,
    HarnessError,
    run_command,
)
from tests.realpodman.session import IMAGE, HarnessSession
from tests.realpodman.stack import current_stack
from tests.realpodman.users import USER_PATH, RootlessUser

#: Where rootful netavark keeps the aardvark-dns files.
ROOTFUL_AARDVARK_DIR = Path("/run/containers/networks/aardvark-dns")
#: Where rootful podman keeps network definitions (shared by every store).
ROOTFUL_NETWORK_CONFIG_DIR = Path("/etc/containers/networks")
#: Environment variables that would point podman somewhere else than the local host.
_FOREIGN_ENV = ("CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINERS_CONF", "DOCKER_HOST")


class PodmanHost:
    """Podman as root (``user=None``) or as a rootless test user.

    Methods that create things qualify the name with the session prefix and return the
    full name. Commands run with a time limit and raise ``CommandError`` (with stderr)
    on failure unless ``check=False``.
    """

    def __init__(self, session: HarnessSession, user: RootlessUser | None = None) -> None:
        self.session = session
        self.user = user

    def __repr__(self) -> str:
        return f"PodmanHost({self.label})"

    # ---- running things -------------------------------------------------------------

    @property
    def rootless(self) -> bool:
        """True for a rootless user's podman."""
        return self.user is not None

    @property
    def label(self) -> str:
        """``root`` or the rootless user's name."""
        return self.user.name if self.user else "root"

    @property
    def containers_conf(self) -> Path:
        """The containers.conf this host's podman reads (CONTAINERS_CONF)."""
        return self.user.containers_conf if self.user else self.session.containers_conf

    @property
    def env(self) -> dict[str, str]:
        """The environment a podman (or aardcheck) process of this host gets."""
        if self.user:
            return self.user.environment()
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env["CONTAINERS_CONF"] = str(self.session.containers_conf)
        # A watcher a test starts answers on the session's own socket, never on root's
        # default (/run/aardcheck/watch.sock: a real watcher's, or another session's).
        # Rootless users are the session's own: their default socket is already private.
        env.setdefault("AARDCHECK_ANSWER_SOCKET", str(self.session.workdir / "watch.sock"))
        return env

    def command(self, argv: Sequence[str], extra_env: Mapping[str, str] | None = None) -> list[str]:
        """argv as this host runs it (wrapped in runuser for a rootless user)."""
        if self.user:
            return self.user.command([str(a) for a in argv], dict(extra_env or {}))
        return [str(a) for a in argv]

    def process_env(self, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment to start ``command(argv, extra_env)`` with."""
        if self.user:  # runuser ... env -i sets the real environment itself
            return {"PATH": USER_PATH, "LANG": "C.UTF-8"}
        return self.env | dict(extra_env or {})

    @property
    def cwd(self) -> str:
        """A working directory this host's user can enter."""
        return "/" if self.user else os.getcwd()

    def exec(
        self,
        *argv: str | os.PathLike[str],
        extra_env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run any command as this host's user, with this host's environment."""
        return run_command(
            self.command([os.fspath(a) for a in argv], extra_env),
            env=self.process_env(extra_env),
            timeout=timeout,
            check=check,
            input_text=input_text,
            cwd=self.cwd,
        )

    def podman(
        self,
        *args: str | os.PathLike[str],
        timeout: float = DEFAULT_TIMEOUT,
        check: bool = True,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``podman ARGS``; raises CommandError with stderr on failure (``check``)."""
        return self.exec("podman", *args, timeout=timeout, check=check, input_text=input_text)

    def podman_json(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Run ``podman ARGS`` and parse its JSON output."""
        return json.loads(self.podman(*args, timeout=timeout).stdout or "null")

    def unshare(
        self, *argv: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run argv in this host's user namespace (``podman unshare``; plain for root)."""
        if self.user:
            return self.podman("unshare", *argv, timeout=timeout, check=check)
        return self.exec(*argv, timeout=timeout, check=check)

    def in_network_namespace(
        self, *argv: str, timeout: float = DEFAULT_TIMEOUT, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run argv where this host's bridges live (``podman unshare --rootless-netns``)."""
        if self.user:
            return self.podman("unshare", "--rootless-netns", *argv, timeout=timeout, check=check)
        return self.exec(*argv, timeout=timeout, check=check)

    def ensure_image(self) -> str:
        """Import the busybox test image for this host's user unless it exists."""
        return image.ensure_image(self)

    # ---- where the files are ----------------------------------------------------------

    @cached_property
    def runroot(self) -> Path:
        """The store's run root, as podman reports it."""
        return Path(self.podman("info", "--format", "{{.Store.RunRoot}}").stdout.strip())

    @property
    def network_run_dir(self) -> Path:
        """netavark's ``--config`` directory (parent of aardvark-dns/, holds the locks)."""
        if self.user:
            return self.runroot / "networks"
        return ROOTFUL_AARDVARK_DIR.parent

    @property
    def aardvark_dir(self) -> Path:
        """The real aardvark-dns directory of this host."""
        return self.network_run_dir / "aardvark-dns"

    def aardvark_file(self, network: str) -> Path:
        """Path of a network's aardvark-dns file (may not exist)."""
        return self.aardvark_dir / self.session.qualify(network)

    def read_aardvark_file(self, network: str) -> str | None:
        """A network's aardvark-dns file as text, None when there is none."""
        try:
            return self.aardvark_file(network).read_text()
        except FileNotFoundError:
            return None

    def aardvark_lines(self, network: str) -> list[str]:
        """The container lines (not the header) of a network's aardvark-dns file."""
        text = self.read_aardvark_file(network) or ""
        lines = [line for line in text.split("\n") if line]
        return lines[1:]

    def aardvark_ids(self, network: str) -> set[str]:
        """Container ids (lower case) that a network's aardvark-dns file lists."""
        return {line.split(" ", 1)[0].lower() for line in self.aardvark_lines(network)}

    # ---- networks ---------------------------------------------------------------------

    def network_create(
        self,
        name: str,
        subnet: str | None = None,
        labels: Mapping[str, str] | None = None,
        *,
        gateway: str | None = None,
        ipv6: bool = False,
        internal: bool = False,
        disable_dns: bool = False,
        options: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> str:
        """Create a bridge network; returns its full name.

        ``subnet=None`` picks a free /24 of ``subnets.SUBNET_POOL`` (10.213/16), not of
        podman's own 10.89/16 pool, which this harness's orphan files could poison.
        """
        name = self.session.qualify(name)
        tries = 5 if subnet is None else 1
        for attempt in range(tries):
            chosen = subnet or self.free_subnet()
            args = ["network", "create", "--subnet", chosen]
            if gateway:
                args += ["--gateway", gateway]
            if ipv6:
                args.append("--ipv6")
            if internal:
                args.append("--internal")
            if disable_dns:
                args.append("--disable-dns")
            args += [f"--label={k}={v}" for k, v in (labels or {}).items()]
            args += [f"--opt={k}={v}" for k, v in (options or {}).items()]
            proc = self.podman(*args, *extra_args, name, check=False)
            if proc.returncode == 0:
                break
            if "already used" not in proc.stderr or attempt == tries - 1:
                raise CommandError(proc.args, proc.returncode, proc.stdout, proc.stderr)
        if not self.user:
            self.session.save_network_definition(name, self.network_definition(name))
        return name

    def network_definition(self, name: str) -> dict[str, object]:
        """A rootful network's definition file as podman wrote it (else its inspect)."""
        name = self.session.qualify(name)
        path = ROOTFUL_NETWORK_CONFIG_DIR / f"{name}.json"
        loaded = json.loads(path.read_text()) if path.exists() else self.network_inspect(name)
        if not isinstance(loaded, dict):
            raise HarnessError(f"unexpected network definition for {name}: {loaded!r}")
        return loaded

    def network_inspect(self, name: str) -> dict[str, Any]:
        """``podman network inspect`` of one network (libpod JSON)."""
        data = self.podman_json("network", "inspect", self.session.qualify(name))
        return dict(data[0])

    def network_exists(self, name: str) -> bool:
        """Whether podman knows this network."""
        name = self.session.qualify(name)
        return self.podman("network", "exists", name, check=False).returncode == 0

    def network_rm(self, name: str, *, force: bool = True) -> None:
        """``podman network rm [-f]`` of a session network."""
        self._require_owned(name)
        self.podman("network", "rm", *(["-f"] if force else []), name, timeout=180)

    def networks(self) -> list[str]:
        """Names of all networks of this host (not only the session's)."""
        return [str(n["name"]) for n in self.podman_json("network", "ls", "--format", "json")]

    def gateway(self, network: str) -> str:
        """The network's first IPv4 gateway (else its first gateway)."""
        subnets = self.network_inspect(network).get("subnets") or []
        gateways = [str(s["gateway"]) for s in subnets if s.get("gateway")]
        if not gateways:
            raise HarnessError(f"network {network} has no gateway")
        v4 = [g for g in gateways if ipaddress.ip_address(g).version == 4]
        return (v4 or gateways)[0]

    def free_subnet(self) -> str:
        """A /24 from ``SUBNET_POOL`` that no network, route or aardvark file uses."""
        networks = self.podman_json("network", "ls", "--format", "json") or []
        # rootless podman too refuses a subnet routed on the host ("already used on the host")
        return subnets.free_subnet(networks, self.aardvark_dir, host_routes=True)

    # ---- containers -------------------------------------------------------------------

    def run(
        self,
        name: str,
        networks: NetworkSpec,
        *,
        ip: str | Mapping[str, str] | None = None,
        cmd: Sequence[str] = ("sleep", "3600"),
        image_name: str = IMAGE,
        extra_args: Sequence[str] = (),
    ) -> ContainerInfo:
        """``podman run -d`` a container on networks (with aliases) and return its info.

        ``networks`` is a list of names or a mapping name -> aliases; ``ip`` a static
        IPv4 address (one network only) or a mapping network -> address.
        """
        name = self.session.qualify(name)
        if isinstance(networks, Mapping):
            wanted = {self.session.qualify(n): list(a) for n, a in networks.items()}
        else:
            wanted = {self.session.qualify(n): [] for n in networks}
        if isinstance(ip, str):
            if len(wanted) != 1:
                raise HarnessError("ip= as a string needs exactly one network; pass a mapping")
            ips = {next(iter(wanted)): ip}
        else:
            ips = {self.session.qualify(n): a for n, a in (ip or {}).items()}
        args = ["run", "-d", "--name", name]
        for network, aliases in wanted.items():
            opts = [f"alias={a}" for a in aliases]
            if network in ips:
                opts.append(f"ip={ips[network]}")
            args += ["--network", network + (":" + ",".join(opts) if opts else "")]
        self.podman(*args, *extra_args, image_name, *cmd, timeout=180)
        return self.container(name)

    def inspect(self, name: str) -> dict[str, Any]:
        """``podman container inspect`` of one container (raw JSON object)."""
        return dict(self.podman_json("container", "inspect", name)[0])

    def container(self, name: str) -> ContainerInfo:
        """The parsed inspect of one container."""
        return ContainerInfo.from_inspect(self.inspect(name))

    def container_exists(self, name: str) -> bool:
        """Whether podman still lists this container."""
        return self.podman("container", "exists", name, check=False).returncode == 0

    def containers(self, prefix: str | None = None) -> list[str]:
        """Names of this host's containers starting with ``prefix`` (default: the session's).

        Filtered by podman itself: an unfiltered ``podman ps`` fails outright while any
        container on the host has a vanished netns (another test's recipe half-way).
        """
        prefix = self.session.prefix if prefix is None else prefix
        args = ["ps", "-a", "--format", "json"]
        if prefix:
            args += ["--filter", f"name=^{re.escape(prefix)}"]
        listed = self.podman_json(*args) or []
        names = [str(c["Names"][0]) for c in listed if c.get("Names")]
        return [n for n in names if n.startswith(prefix)]

    def members(self, network: str, *, running_only: bool = True) -> list[str]:
        """Names of containers attached to a network (running ones by default)."""
        args = ["ps", "--filter", f"network={self.session.qualify(network)}", "--format", "json"]
        if not running_only:
            args.insert(1, "-a")
        listed = self.podman_json(*args) or []
        return [str(c["Names"][0]) for c in listed if c.get("Names")]

    def rm(self, name: str, *, tries: int = 3) -> None:
        """``podman rm -f -t 0`` a session container, retried while it still exists."""
        self._require_owned(name)
        for _ in range(tries):
            proc = self.podman("rm", "-f", "-t", "0", name, check=False, timeout=90)
            if not self.container_exists(name):
                return
        raise CommandError(proc.args, proc.returncode, proc.stdout, proc.stderr)

    def _require_owned(self, name: str) -> None:
        if not self.session.owns(name):
            raise HarnessError(f"refusing to remove {name!r}: no {self.session.prefix} prefix")

    # ---- DNS and API ------------------------------------------------------------------

    def dig(
        self,
        network: str,
        name: str,
        rdtype: str = "A",
        *,
        via: str | None = None,
        timeout: float = 2.0,
    ) -> set[str]:
        """Answers the network's aardvark-dns gives a member container (see ``dns.dig``)."""
        return set(dns.dig(self, network, name, rdtype, via=via, timeout=timeout))

    def dig_records(
        self, network: str, name: str, rdtype: str = "A", *, via: str | None = None
    ) -> list[str]:
        """Like ``dig`` but every record in answer order, duplicates kept."""
        return dns.dig(self, network, name, rdtype, via=via)

    def wait_for_answers(
        self,
        network: str,
        name: str,
        expected: set[str],
        rdtype: str = "A",
        *,
        via: str | None = None,
    ) -> set[str]:
        """``dig`` until it answers ``expected`` (aardvark reloads lazily); the last set."""
        return dns.wait_for_answers(self, network, name, expected, rdtype, via=via)

    def api_service(self) -> AbstractContextManager[str]:
        """Run ``podman system service`` on a private socket; yields its ``unix://`` URL."""
        return api.api_service(self)

    # ---- stale-entry recipes (see ``recipes``) ----------------------------------------

    def make_vanished_netns_stale(self, container: str) -> recipes.PlantedStale:
        """Kill a running container's conmon+pid, remove its netns, ``rm -f`` it."""
        return recipes.make_vanished_netns_stale(self, container)

    def make_failed_teardown_stale(self, container: str) -> recipes.PlantedStale:
        """``rm -f`` a running container while its networks' files are read-only."""
        return failed_teardown.make_failed_teardown_stale(self, container)

    def make_natural_stale(self, container: str) -> recipes.PlantedStale:
        """The field failure that leaves a running container's line behind on this stack:
        a vanished netns where netavark then keeps the line (1.4), else a teardown that
        cannot write the file (netavark 1.14 cleans up after a vanished netns)."""
        if current_stack().vanished_netns_keeps_line:
            return self.make_vanished_netns_stale(container)
        return self.make_failed_teardown_stale(container)

    def make_missing_sibling_stale(
        self, net_a: str, net_b: str, aliases: Sequence[str] = ("app",)
    ) -> recipes.PlantedStale:
        """Leave a removed container's line in ``net_b`` (``net_a``'s file went missing)."""
        return recipes.make_missing_sibling_stale(self, net_a, net_b, aliases=aliases)

    def make_foreign_store_network_rm(
        self, network: str, *, remove_containers: bool = True
    ) -> list[recipes.PlantedStale]:
        """Remove ``network`` from another store; its containers' lines then leak."""
        return recipes.make_foreign_store_network_rm(
            self, network, remove_containers=remove_containers
        )

    def make_orphan_file(
        self, network: str, aliases: Sequence[str] = ("app",), *, ip: str | None = None
    ) -> recipes.PlantedStale:
        """Plant a stale line in ``network``, then ``network rm -f``: the file survives."""
        return recipes.make_orphan_file(self, network, aliases=aliases, ip=ip)

    def make_reused_subnet_stale(
        self, old_network: str, new_network: str, aliases: Sequence[str] = ("app",)
    ) -> recipes.ReusedSubnet:
        """An orphan file of ``old_network`` whose subnet ``new_network`` then reuses."""
        return recipes.make_reused_subnet_stale(self, old_network, new_network, aliases=aliases)
