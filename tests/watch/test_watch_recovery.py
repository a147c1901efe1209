"""The watcher survives the podman API service restarting, aardvark-dns being killed and
the aardvark-dns directory being deleted and re-created, and still detects a new stale
entry afterwards. Rootless: deleting the rootful directory would disturb the host."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Callable

import pytest

from tests.realpodman import PodmanHost
from tests.watch.conftest import StartWatch
from tests.watch.restartable import RestartableService
from tests.watch.stale import plant_dead_stale
from tests.watch.test_watch_report import assert_clean_exit

pytestmark = [pytest.mark.podman, pytest.mark.rootless]

NetName = Callable[[str], str]


def test_recovers_from_api_restart_and_vanished_directory(
    rootless_host: PodmanHost, net_name: NetName, start_watch: StartWatch
) -> None:
    host = rootless_host
    net = host.network_create(net_name("rec"))
    host.run(host.session.new_name("live"), {net: ["app"]})
    service = RestartableService(host)
    service.start()
    watcher = start_watch(host, "-v", "--url", service.url, "--network", net, "--interval", "600")
    watcher.wait_ready()

    # 1. the API service goes away and comes back on the same socket
    mark = len(watcher.stderr.items)
    service.stop()
    watcher.wait_stderr(r"podman event stream lost", after=mark)
    service.start()
    watcher.wait_stderr(r"podman event stream is back", after=mark)
    watcher.wait_stderr(r"check #\d+ .*podman event stream reconnected", after=mark)

    # 2. aardvark-dns is killed and its directory deleted; a new container brings both back
    mark = len(watcher.stderr.items)
    pid_file = host.aardvark_dir / "aardvark.pid"
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
    shutil.rmtree(host.aardvark_dir)
    watcher.wait_stderr(rf"{host.aardvark_dir} does not exist; watching ", after=mark)
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    watcher.wait_stderr(rf"watching {host.aardvark_dir}$", after=mark)

    # 3. a new stale entry is still detected
    stale = plant_dead_stale(host, doomed.name)
    watcher.wait_stderr(
        rf"appeared: \S+ dead-entry network={net} .*container={stale.short_id}", after=mark
    )
    assert "Traceback" not in watcher.output()
    assert_clean_exit(watcher)
    service.stop()
