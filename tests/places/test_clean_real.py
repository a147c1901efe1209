"""``aardcheck clean`` against real podman (rootful): prune the dead, touch nothing live."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.places.stack import aardcheck
from tests.realpodman import PodmanHost

pytestmark = pytest.mark.podman


def test_clean_twice(
    rootful_host: PodmanHost, net_name: Callable[[str], str], tmp_path: Path
) -> None:
    host = rootful_host
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

    args = ["clean", "--lock-file", str(tmp_path / "clean.lock")]
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
