"""``aardcheck clean`` against real podman, rootful and rootless: prune the dead, touch
nothing live."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.places.stack import aardcheck
from tests.realpodman import PodmanHost

pytestmark = pytest.mark.podman


@pytest.mark.parametrize("who", ["rootful", pytest.param("rootless", marks=pytest.mark.rootless)])
def test_clean_twice(
    who: str, request: pytest.FixtureRequest, net_name: Callable[[str], str]
) -> None:
    host: PodmanHost = request.getfixturevalue(f"{who}_host")
    shared = host.network_create(net_name("cl"))
    live = host.run(host.session.new_name("live"), {shared: ["app"]})
    victim = host.run(host.session.new_name("victim"), {shared: ["app"]})
    host.make_natural_stale(victim.name)
    gone = host.network_create(net_name("gone"))
    host.make_orphan_file(gone)
    quiet = host.network_create(net_name("quiet"))
    host.run(host.session.new_name("keep"), {quiet: ["svc"]})
    live_line = next(line for line in host.aardvark_lines(shared) if line.startswith(live.id))
    quiet_before = host.aardvark_file(quiet).read_bytes()
    assert victim.id in host.aardvark_ids(shared)

    lock_dir = host.session.scratch_dir("clean")  # the host's user writes its lock there
    if host.user is not None:
        os.chown(lock_dir, host.user.uid, host.user.gid)
    args = ["clean", "--lock-file", str(lock_dir / "clean.lock")]
    args += [a for n in (shared, gone, quiet) for a in ("-n", n)]
    first = aardcheck(*args, host=host)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "prune-lines" in first.stdout and "delete-file" in first.stdout
    assert victim.id not in host.aardvark_ids(shared)
    assert host.aardvark_lines(shared) == [live_line]
    assert not host.aardvark_file(gone).exists()
    assert host.aardvark_file(quiet).read_bytes() == quiet_before
    assert host.dig(shared, "app", via=live.name) == {live.ips[shared]}

    second = aardcheck(*args, host=host)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")
    assert host.aardvark_lines(shared) == [live_line]
    assert host.aardvark_file(quiet).read_bytes() == quiet_before
