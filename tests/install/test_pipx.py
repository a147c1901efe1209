"""``pipx install`` from a clone, then ``aardcheck check`` against the podman already on
the host (no apt step): rootful as root, rootless as a throw-away user. Missing podman
or netavark: one line on stderr naming it, exit code 3."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aardcheck.sources.aardvark_files import AARDVARK_DIRS
from tests.install.readme import quick_start_commands
from tests.install.source import clean_env, copy_checkout, pip_env, run, scratch_dir
from tests.realpodman import PodmanHost
from tests.watch.stale import plant_dead_stale

pytestmark = pytest.mark.podman
NetName = Callable[[str], str]
#: The README's pipx line for a clone (``./aardcheck``: the clone's directory).
PIPX_FROM_CLONE = "pipx install ./aardcheck"


@pytest.fixture(scope="module")
def clone() -> Iterator[Path]:
    """A world-readable copy of the checkout, named as a clone would be (``aardcheck``)."""
    scratch = scratch_dir("pipx")
    copy_checkout(scratch)
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


def test_the_readme_says_pipx_install_from_a_clone() -> None:
    assert PIPX_FROM_CLONE in quick_start_commands()


@pytest.fixture(scope="module")
def rootful_pipx(clone: Path) -> Path:
    """``pipx install ./aardcheck`` as root, into the clone's scratch directory."""
    command = PIPX_FROM_CLONE
    env = clean_env(PIPX_HOME=str(clone / "pipx"), PIPX_BIN_DIR=str(clone / "bin"))
    done = run(["bash", "-c", command], env=env, cwd=clone)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return clone / "bin" / "aardcheck"


def dead_line_on(host: PodmanHost, net_name: NetName) -> tuple[str, str]:
    """(network, container id) of a dead stale line beside a live container."""
    net = host.network_create(net_name("pipx"))
    host.run(host.session.new_name("live"), {net: ["app"]})
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    return net, plant_dead_stale(host, doomed.name).container_id


def assert_found(stdout: str, net: str, container_id: str) -> None:
    report = json.loads(stdout)
    ours = {(f["network"], f["container_id"]) for f in report["findings"]}
    assert (net, container_id) in ours, report["findings"]


def test_pipx_install_then_check_rootful(
    rootful_pipx: Path, rootful_host: PodmanHost, net_name: NetName
) -> None:
    net, container_id = dead_line_on(rootful_host, net_name)
    env = clean_env(CONTAINERS_CONF=str(rootful_host.containers_conf))
    done = run(
        [rootful_pipx, "check", "--network", net, "--format", "json"], env=env, cwd=Path("/")
    )
    assert done.returncode == 1, done.stderr
    assert_found(done.stdout, net, container_id)
    version = run([rootful_pipx, "--version"], env=env)
    assert version.stdout.startswith("aardcheck ")


def test_pipx_install_then_check_rootless(
    clone: Path, rootless_host: PodmanHost, net_name: NetName
) -> None:
    """The user's own pipx (~/.local/pipx, ~/.local/bin), the user's rootless podman."""
    user = rootless_host.user
    assert user is not None
    own = clone / "rootless"  # the user's own clone: pip builds in the source tree
    copy_checkout(own)
    for path in [own, *own.rglob("*")]:
        os.chown(path, user.uid, user.gid, follow_symlinks=False)
    command = PIPX_FROM_CLONE
    installed = rootless_host.exec(
        "bash", "-c", f"cd {own} && {command}", extra_env=pip_env(), check=False, timeout=480
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    aardcheck = user.home / ".local" / "bin" / "aardcheck"
    net, container_id = dead_line_on(rootless_host, net_name)
    done = rootless_host.exec(
        aardcheck, "check", "--network", net, "--format", "json", check=False, timeout=180
    )
    assert done.returncode == 1, done.stderr
    assert_found(done.stdout, net, container_id)


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("aardcheck: error: "), stderr
    return lines[0]


def test_without_podman_one_line_exit_3(rootful_pipx: Path, clone: Path) -> None:
    empty = clone / "empty-path"
    empty.mkdir(exist_ok=True)
    done = run([rootful_pipx, "check"], env=clean_env(PATH=str(empty)), cwd=Path("/"))
    assert done.returncode == 3
    assert "podman is not installed" in one_line_error(done.stderr)


def test_without_netavark_one_line_exit_3(
    rootful_pipx: Path, rootful_host: PodmanHost, clone: Path
) -> None:  # rootful_host: real podman is there
    """podman whose helper directory lacks netavark (as on a host with podman but no
    netavark package): aardcheck's private API service cannot start and says why."""
    if os.path.exists("/run/podman/podman.sock"):
        pytest.skip("a podman API service listens at the default socket: no private service")
    helpers = clone / "helpers-without-netavark"
    helpers.mkdir(exist_ok=True)
    conf = clone / "no-netavark.conf"
    conf.write_text(f'[engine]\nhelper_binaries_dir = ["{helpers}"]\n')
    done = run([rootful_pipx, "check"], env=clean_env(CONTAINERS_CONF=str(conf)), cwd=Path("/"))
    assert done.returncode == 3
    assert "netavark" in one_line_error(done.stderr)


def test_without_aardvark_dns_one_line_exit_3(rootful_pipx: Path, rootful_host: PodmanHost) -> None:
    """aardvark-dns hidden in a private mount namespace (the host's stays as it is)."""
    binary = next(d / "aardvark-dns" for d in AARDVARK_DIRS if (d / "aardvark-dns").exists())
    hide = f'mount --bind /dev/null {binary} && exec "$0" check --no-probe'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, rootful_pipx]
    env = clean_env(CONTAINERS_CONF=str(rootful_host.containers_conf))
    done = run(argv, env=env, cwd=Path("/"))
    assert done.returncode == 3
    assert "aardvark-dns" in one_line_error(done.stderr)
