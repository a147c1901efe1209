"""Issue 13's two reproductions, against real podman: the watcher must not cry wolf when
a member leaves, and must not hold what it watches.

1. Killing and removing the member the probe asks from (no stale line anywhere) raised a
   critical ``resolver-down`` that stayed until the next full check.
2. While the watcher ran, ``umount`` of a container's netns file failed with EBUSY: the
   watcher's private podman 4.3 API service keeps an fd on the netns of every running
   container it lists (libpod's boltdb state opens it), so the namespace outlived its
   container and a plain umount said "target is busy".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.realpodman import PodmanHost, run_command
from tests.realpodman.recipes import remove_dead_container
from tests.watch.conftest import StartWatch
from tests.watch.namespaces import namespace_references, watcher_pids
from tests.watch.process import WatchProcess

pytestmark = pytest.mark.podman

NetName = Callable[[str], str]
#: Members killed and removed in turn in the resolver-down reproduction.
ROUNDS = 3


def _wait_checked(watcher: WatchProcess, after: int, timeout: float = 60.0) -> int:
    """Wait for a check that started after stderr line ``after``; the new line count."""
    watcher.wait_stderr(r"check #\d+ .* took ", timeout, after=after)
    return len(watcher.stderr.items)


def _alarms(watcher: WatchProcess, kind: str) -> list[str]:
    return [
        line
        for _, doc in watcher.json_lines(watcher.stdout.items)
        if doc.get("event") == "appeared" and doc["finding"]["kind"] == kind
        for line in [str(doc)]
    ]


@pytest.mark.parametrize("host_fixture", ["rootful_host", "rootless_host"])
def test_member_leaving_is_never_resolver_down(
    host_fixture: str,
    request: pytest.FixtureRequest,
    net_name: NetName,
    start_watch: StartWatch,
) -> None:
    host: PodmanHost = request.getfixturevalue(host_fixture)
    net = host.network_create(net_name("leave"))
    # The probe asks from the first running member by name: kill exactly that one.
    members = [host.run(host.session.new_name(f"m{i}"), {net: ["app"]}) for i in range(ROUNDS)]
    host.run(host.session.new_name("zkeeper"), {net: ["app"]})
    watcher = start_watch(host, "--network", net, "--interval", "600", "--format", "json", "-v")
    watcher.wait_ready()
    seen = len(watcher.stderr.items)
    for member in members:
        # Between the kill and the rm the watcher checks (the died event): the member
        # is on its way out while the probe asks; then again after the removal.
        host.podman("kill", member.name)
        seen = _wait_checked(watcher, seen)
        host.podman("rm", "-f", "-t", "0", member.name)
        seen = _wait_checked(watcher, seen)
    assert _alarms(watcher, "resolver-down") == [], watcher.output()
    assert watcher.proc.poll() is None, watcher.output()


@pytest.mark.parametrize("host_fixture", ["rootful_host", "rootless_host"])
def test_watcher_pins_no_container_namespace(
    host_fixture: str,
    request: pytest.FixtureRequest,
    net_name: NetName,
    start_watch: StartWatch,
) -> None:
    host: PodmanHost = request.getfixturevalue(host_fixture)
    net = host.network_create(net_name("pin"))
    keeper = host.run(host.session.new_name("keeper"), {net: ["app"]})
    leaving = [host.run(host.session.new_name(f"gone{i}"), {net: ["app"]}) for i in range(2)]
    # Namespace identities (device, inode) while the members run.
    inodes = {_netns_id(c.pid) for c in leaving}
    watcher = start_watch(host, "--network", net, "--interval", "600", "-v")
    watcher.wait_ready()
    seen = len(watcher.stderr.items)
    for c in leaving:
        host.podman("kill", c.name)
        host.podman("rm", "-f", "-t", "0", c.name)
    seen = _wait_checked(watcher, seen)
    pids = watcher_pids(watcher.watcher_pid())
    refs = namespace_references(pids, inodes, [c.sandbox_key for c in leaving])
    assert refs == [], f"{refs}\n{watcher.output()}"
    # The live member's namespace too: once a check is over, the watcher holds it no more
    # (it did: podman 4.3's API service keeps every listed container's netns open).
    # (By identity, fds only: a live container's netns mount is in every process's view.)
    keeper_ns = {_netns_id(keeper.pid)}
    refs = namespace_references(pids, keeper_ns, [])
    assert refs == [], f"{refs}\n{watcher.output()}"
    if host.rootless:
        return  # its netns files are bound in the user's mount namespace: no host umount
    # The direct symptom: a plain umount of the live member's netns file (the natural
    # stale recipe's step). On a shared host another process (another test's API
    # service) may hold it: then none of the holders may be the watcher's.
    done = run_command(["umount", keeper.sandbox_key], check=False)
    holders = [] if done.returncode == 0 else _holders(keeper.sandbox_key)
    if done.returncode != 0:  # busy: detach it as podman would, so the cleanup works
        run_command(["umount", "-l", keeper.sandbox_key], check=False)
    Path(keeper.sandbox_key).unlink(missing_ok=True)
    remove_dead_container(host, keeper.name)
    ours = set(watcher_pids(watcher.watcher_pid()))
    assert not ours & set(holders), f"umount: {done.stderr}\n{watcher.output()}"


def _holders(path: str) -> list[int]:
    """Every process with an fd on ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == path for fd in (entry / "fd").iterdir()):
                found.append(int(entry.name))
    return found


def _netns_id(pid: int) -> tuple[int, int]:
    st = os.stat(f"/proc/{pid}/ns/net")
    return st.st_dev, st.st_ino
