"""A rootful podman 4.3 on the CNI backend, in a store of its own, for the dnsname tests.

The host's configuration stays untouched: podman gets a private ``containers.conf``
(``network_backend = "cni"``, a private ``network_config_dir`` instead of
``/etc/cni/net.d``, a private ``tmp_dir``) and a private store (``CONTAINERS_STORAGE_CONF``),
both in the session's scratch directory. Only the dnsname plugin's run directory is
shared with the host (``/run/containers/cni/dnsname/NET``; every NET carries the session
prefix): ``cleanup`` stops those networks' dnsmasq, removes their directories, the
containers, networks and iptables rules the plugins left, and the store - also after a
failure (it is a session finalizer from the start).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.realpodman import HarnessSession, PodmanHost, RootlessUser, run_command, wait_until
from tests.realpodman.host import _FOREIGN_ENV
from tests.realpodman.proc import HarnessError
from tests.realpodman.recipes import remove_dead_container
from tests.realpodman.session import CONTAINERS_CONF_TEXT
from tests.realpodman.stack import current_stack

DNSNAME_DIR = Path("/run/containers/cni/dnsname")
PLUGIN = Path("/usr/lib/cni/dnsname")


def cni_unavailable_reason() -> str:
    """Why the CNI backend cannot run here ('' when it can)."""
    if current_stack().podman[:1] != (4,):
        return f"podman {current_stack().podman} has no CNI backend (removed in podman 5)"
    if os.geteuid() != 0:
        return "the CNI tests need root (rootful podman, and runuser for the rootless user)"
    if not PLUGIN.exists() or not shutil.which("dnsmasq"):
        return "dnsname plugin or dnsmasq missing: scripts/setup-host.sh installs them"
    return ""


class CniHost(PodmanHost):
    """``PodmanHost`` whose podman runs the CNI backend in a private store."""

    def __init__(self, session: HarnessSession, user: RootlessUser | None = None) -> None:
        super().__init__(session, user)
        self.home = session.scratch_dir("cni")
        for sub in ("net.d", "graph", "run", "tmp"):
            (self.home / sub).mkdir(mode=0o700)
        self.cni_conf = self.home / "containers.conf"
        self.cni_conf.write_text(
            CONTAINERS_CONF_TEXT.replace(
                "[engine]\n", f'[engine]\ntmp_dir = "{self.home / "tmp"}"\n'
            )
            + "\n[network]\n"
            + 'network_backend = "cni"\n'
            + f'network_config_dir = "{self.home / "net.d"}"\n'
            + 'cni_plugin_dirs = ["/usr/lib/cni"]\n'
        )
        self.storage_conf = self.home / "storage.conf"
        self.storage_conf.write_text(
            "[storage]\n"
            # a rootless store on /tmp: vfs needs no overlay support in the user namespace
            + ('driver = "vfs"\n' if user else 'driver = "overlay"\n')
            + f'graphroot = "{self.home / "graph"}"\n'
            + f'runroot = "{self.home / "run"}"\n'
        )
        if user:
            for path in (self.home, *self.home.rglob("*")):
                os.chown(path, user.uid, user.gid)
        self.networks_made: list[str] = []
        #: Addresses of containers whose teardown never ran: the firewall plugin's
        #: CNI-FORWARD rules for them carry no name, only the address.
        self.leaked_addresses: set[str] = set()
        session.add_finalizer(self.cleanup)

    @property
    def containers_conf(self) -> Path:
        return self.cni_conf

    @property
    def cni_env(self) -> dict[str, str]:
        return {
            "CONTAINERS_CONF": str(self.cni_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
        }

    def command(self, argv: Sequence[str], extra_env: Mapping[str, str] | None = None) -> list[str]:
        # a rootless user's command line carries its whole environment (runuser env -i)
        if self.user:
            return super().command(argv, self.cni_env | dict(extra_env or {}))
        return super().command(argv, extra_env)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        if self.user:
            return self.user.environment() | self.cni_env
        env.pop("XDG_RUNTIME_DIR", None)  # dnsname would write under it (config.go)
        return env | self.cni_env

    def aardcheck_env(self, url: str) -> dict[str, str]:
        """What an aardcheck process of this host gets (run with ``--url URL``)."""
        # --url names the API; CONTAINER_HOST would turn aardcheck's own `podman unshare`
        # (rootless probes) into a remote client, which cannot unshare
        return {"CONTAINERS_STORAGE_CONF": str(self.storage_conf)}

    @property
    def dnsname_root(self) -> Path:
        """Where the plugin writes for this podman (``config.go: dnsNameConfPath``)."""
        if self.user:
            return self.user.runtime_dir / "containers" / "cni" / "dnsname"
        return DNSNAME_DIR

    def cni_network(self, stem: str) -> str:
        """A CNI bridge network with the dnsname plugin (podman's default for create)."""
        name = self.session.new_name(stem)
        self.networks_made.append(name)
        self.podman("network", "create", "--subnet", self.free_subnet(), name)
        return name

    def dnsname_dir(self, network: str) -> Path:
        return self.dnsname_root / network

    def hosts_lines(self, network: str) -> list[str]:
        try:
            text = (self.dnsname_dir(network) / "addnhosts").read_text()
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if line.strip()]

    def make_vanished_netns_stale(self, container: str) -> list[str]:
        """The field failure, CNI edition: kill conmon and the container, remove its netns,
        ``podman rm -f``: the CNI DEL never reaches dnsname, the line stays. Returns the
        network(s) whose ``addnhosts`` kept the container's line."""
        info = self.container(container)
        for pid in (info.conmon_pid, info.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{info.pid}").exists(), timeout=15, what="the kill")
        if self.user:  # the netns is bound inside the user's mount namespace
            script = '{ umount "$1" || umount --lazy "$1"; } && rm -f "$1"'
            self.unshare("sh", "-c", script, "sh", info.sandbox_key, timeout=60)
        else:
            run_command(["umount", "-l", info.sandbox_key], timeout=30, check=False)
            Path(info.sandbox_key).unlink(missing_ok=True)
        self.leaked_addresses.update(a for a in info.ips.values() if a)
        remove_dead_container(self, container)
        kept = [
            n
            for n in info.ips
            if any(f"\t{container}\t" in f"{ln}\t" for ln in self.hosts_lines(n))
        ]
        if not kept:
            raise HarnessError(f"no addnhosts kept {container}'s line after its netns vanished")
        return kept

    # ---- cleanup ----------------------------------------------------------------------

    def cleanup(self) -> None:
        """Remove everything this host made; safe to call twice and after a failure."""
        self.session.remove_finalizer(self.cleanup)
        for name in self.containers():
            self.podman("rm", "-f", "-t", "0", name, check=False, timeout=90)
        bridges = set()
        for name in self.networks_made:
            with contextlib.suppress(Exception):
                bridges.add(str(self.network_inspect(name).get("network_interface", "")))
            self.podman("network", "rm", "-f", name, check=False, timeout=90)
        for path in sorted(self.dnsname_root.glob(f"{self.session.prefix}*")):
            self._stop_dnsmasq(path)
            shutil.rmtree(path, ignore_errors=True)
        for parent in (self.dnsname_root, self.dnsname_root.parent):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty: another user's networks stay
        if not self.user:  # a rootless user's rules die with its network namespace
            _drop_iptables_rules(self.session.prefix, bridges - {""}, self.leaked_addresses)
        for line in Path("/proc/self/mounts").read_text().splitlines():
            target = line.split()[1]
            if target.startswith(str(self.home)):
                run_command(["umount", "-l", target], timeout=30, check=False)
        shutil.rmtree(self.home, ignore_errors=True)

    @staticmethod
    def _stop_dnsmasq(path: Path) -> None:
        try:
            pid = int((path / "pidfile").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if f"--conf-file={path}/dnsmasq.conf".encode() in cmdline.split(b"\0"):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)


def _drop_iptables_rules(prefix: str, bridges: set[str], addresses: set[str]) -> None:
    """Rules the plugins left: dnsname's INPUT accept per bridge (it never removes it),
    the bridge plugin's masquerade chains and the firewall plugin's CNI-FORWARD rules of
    containers whose teardown never ran."""
    for table in ("filter", "nat"):
        listed = subprocess.run(
            ["iptables", "-t", table, "-S"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        chains = set()
        for rule in listed:
            if not rule.startswith("-A "):
                continue
            mine = (
                prefix in rule
                or any(f"-i {b} " in f"{rule} " for b in bridges)
                or (
                    rule.startswith("-A CNI-FORWARD ")
                    and any(f" {a}/32 " in rule for a in addresses)
                )
            )
            if mine:
                parts = rule.split()
                if "-j" in parts:
                    target = parts[parts.index("-j") + 1]
                    if target.startswith("CNI-"):
                        chains.add(target)
                run_command(["sh", "-c", f"iptables -t {table} -D {rule[3:]}"], check=False)
        for chain in chains:
            run_command(["iptables", "-t", table, "-F", chain], check=False)
            run_command(["iptables", "-t", table, "-X", chain], check=False)
