"""Remove everything a session made, found again from its prefix and scratch directory.

Works for the live session and for one whose process died (``lifecycle`` reaps those):
nothing here relies on memory of what was created, only on the prefix, the saved
network definitions and the finalizers still registered. Anything without the prefix
is never touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.realpodman.availability import podman_unavailable_reason
from tests.realpodman.host import ROOTFUL_AARDVARK_DIR, ROOTFUL_NETWORK_CONFIG_DIR, PodmanHost
from tests.realpodman.proc import HarnessError, run_command
from tests.realpodman.recipes import (
    drop_dead_ports,
    flush_bridge,
    remove_dead_container,
    remove_tree,
)
from tests.realpodman.session import DEFAULT_BASE_DIR, PREFIX_STEM, HarnessSession, workdir_for
from tests.realpodman.users import remove_user, users_with_prefix

#: Cleanups of one session (its own, then reapers') before its scratch dir is dropped.
CLEANUP_ATTEMPTS = 3


def cleanup_session(session: HarnessSession) -> list[str]:
    """Stop the session's services, remove its users, rootful objects and scratch dir.

    Returns the problems met (empty when all went); never raises for one of them.
    """
    problems: list[str] = []
    for finalizer in session.pop_finalizers():
        try:
            finalizer()
        except Exception as err:  # one failing finalizer must not stop the cleanup
            problems.append(f"finalizer {finalizer!r}: {err}")
    for user in users_with_prefix(session.prefix):
        problems.extend(remove_user(user))
    if podman_unavailable_reason() is None:
        try:
            problems.extend(cleanup_rootful(session))
        except HarnessError as err:
            problems.append(f"rootful cleanup: {err}")
    if session.workdir.exists():
        # keep the scratch dir (saved network definitions, owner file) after a failed
        # cleanup, so that the next session's reaper tries again - a few times at most
        attempts_file = session.workdir / "cleanup-attempts"
        attempts = int(attempts_file.read_text()) + 1 if attempts_file.exists() else 1
        if problems and attempts < CLEANUP_ATTEMPTS:
            attempts_file.write_text(str(attempts))
            problems.append(f"kept {session.workdir} for another cleanup attempt")
        else:
            remove_tree(session.workdir)
    return problems


def _bridge_exists(interface: object) -> bool:
    return (
        isinstance(interface, str)
        and bool(interface)
        and Path(f"/sys/class/net/{interface}").exists()
    )


def cleanup_rootful(session: HarnessSession) -> list[str]:
    """Remove the session's rootful containers, networks, aardvark files, bridges and rules.

    Networks that a recipe removed behind podman's back (foreign store, orphan file) are
    first restored from their saved definitions when their containers or bridge remain,
    so that podman's own teardown removes the bridge, iptables rules and DNS lines.
    """
    session.ensure_containers_conf()  # a reaped orphan's scratch dir starts empty
    host = PodmanHost(session)
    problems: list[str] = []
    containers = host.containers(session.prefix)
    networks = [n for n in host.networks() if session.owns(n)]
    networks += _restore_definitions(host, containers, networks, problems)
    for container in containers:
        try:
            remove_dead_container(host, container)
        except HarnessError as err:
            problems.append(str(err))
    for network in networks:
        try:
            if _bridge_exists(host.network_inspect(network).get("network_interface")):
                host.ensure_image()
                drop_dead_ports(host, network)  # all containers are gone: all ports dead
                flush_bridge(host, network)
        except HarnessError as err:
            problems.append(f"flushing the bridge of {network}: {err}")
    for network in networks:
        proc = host.podman("network", "rm", "-f", network, check=False, timeout=180)
        if proc.returncode != 0 and host.network_exists(network):
            problems.append(f"network rm {network}: {proc.stderr.strip()}")
    if host.aardvark_dir.is_dir():
        for path in host.aardvark_dir.iterdir():
            if session.owns(path.name):  # NAME and NAME%int alike
                path.unlink(missing_ok=True)
    problems.extend(_leaked_bridges(host))
    return problems


def _restore_definitions(
    host: PodmanHost, containers: list[str], networks: list[str], problems: list[str]
) -> list[str]:
    """Put back saved definitions of removed session networks that left something behind."""
    wanted: set[str] = set()
    for container in containers:
        try:
            wanted.update(host.container(container).ips)
        except HarnessError:
            continue
    existing = host.podman_json("network", "ls", "--format", "json") or []
    taken_interfaces = {n.get("network_interface") for n in existing}
    taken_subnets = {s.get("subnet") for n in existing for s in n.get("subnets") or []}
    restored: list[str] = []
    for name, definition in host.session.saved_network_definitions().items():
        if name in networks:
            continue
        interface = definition.get("network_interface")
        subnets = definition.get("subnets")
        own_subnets = {s.get("subnet") for s in subnets} if isinstance(subnets, list) else set()
        if interface in taken_interfaces or own_subnets & taken_subnets:
            # the bridge or subnet now belongs to a live network (e.g. a reused subnet)
            if name in wanted:
                problems.append(f"cannot restore {name}: its bridge or subnet is in use again")
            continue
        if name not in wanted and not _bridge_exists(interface):
            continue
        path = ROOTFUL_NETWORK_CONFIG_DIR / f"{name}.json"
        if not path.exists():
            path.write_text(json.dumps(definition, indent=5) + "\n")
            os.chmod(path, 0o644)
        restored.append(name)
    return restored


def _leaked_bridges(host: PodmanHost) -> list[str]:
    """Bridges of the session's saved networks still up with no network using them."""
    existing = host.podman_json("network", "ls", "--format", "json") or []
    taken = {n.get("network_interface") for n in existing}
    problems = []
    for name, definition in host.session.saved_network_definitions().items():
        interface = definition.get("network_interface")
        if _bridge_exists(interface) and interface not in taken:
            problems.append(f"bridge {interface} of {name} leaked; deleting it")
            run_command(["ip", "link", "del", str(interface)], check=False, timeout=30)
    return problems


_PREFIX_OF = re.compile(r"^(aardtest-[0-9a-f]{6}-)")
_BROKEN_CONTAINER = re.compile(r"network namespace (?:for|of) container ([0-9a-f]{64})")


def orphaned_prefixes(base_dir: Path = DEFAULT_BASE_DIR) -> list[str]:
    """Session prefixes that own rootful objects or users but have no scratch directory.

    A live session creates its scratch directory before anything else and removes it
    last, so such a prefix belongs to a session that is gone (killed before it could
    keep its directory, or an older harness).
    """
    names = list(users_with_prefix(PREFIX_STEM))
    if podman_unavailable_reason() is None:
        names += _rootful_names()
    prefixes = {m.group(1) for m in map(_PREFIX_OF.match, names) if m}
    return sorted(p for p in prefixes if not workdir_for(p, base_dir).exists())


def _rootful_names() -> list[str]:
    """Names of rootful containers (harness-looking only), networks and aardvark files."""
    env = {k: v for k, v in os.environ.items() if k != "CONTAINERS_CONF"}

    def podman(*args: str) -> subprocess.CompletedProcess[str]:
        return run_command(["podman", *args], env=env, check=False, timeout=60)

    listed = podman("ps", "-a", "--filter", f"name=^{PREFIX_STEM}", "--format", "{{.Names}}")
    names = listed.stdout.split()
    broken = _BROKEN_CONTAINER.search(listed.stderr) if listed.returncode else None
    if broken:  # a container whose netns vanished makes the listing fail
        names.append(podman("container", "inspect", "--format", "{{.Name}}", broken[1]).stdout)
    names += podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    if ROOTFUL_AARDVARK_DIR.is_dir():
        names += [path.name for path in ROOTFUL_AARDVARK_DIR.iterdir()]
    return [name.strip() for name in names]
