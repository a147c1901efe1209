"""The README's quick start, run as written: as root on a host without sudo, and with
sudo for a normal user. Installs go to temporary prefixes (AARDCHECK_PREFIX,
AARDCHECK_BIN_DIR); the host's podman stack is already there, so no apt step runs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.install.readme import CHECK_SUMMARY, quick_start
from tests.install.source import clean_env, copy_checkout, pip_env, run, scratch_dir
from tests.realpodman import PodmanHost

pytestmark = pytest.mark.podman
INSTALLED = "install: installed: aardcheck "


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = scratch_dir("quickstart")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def no_sudo_path(scratch: Path) -> str:
    """PATH where ``sudo`` is missing, as on a fresh Debian: a stand-in that fails the
    way bash does for a command that is not installed."""
    shim = scratch / "no-sudo"
    shim.mkdir()
    fake = shim / "sudo"
    fake.write_text("#!/bin/sh\necho 'sudo: command not found' >&2\nexit 127\n")
    fake.chmod(0o755)
    return f"{shim}:{clean_env()['PATH']}"


def test_quick_start_as_root_without_sudo(rootful_host: PodmanHost, scratch: Path) -> None:
    command = quick_start("scripts/install.sh")
    assert command == "scripts/install.sh check"
    checkout = copy_checkout(scratch)
    before = sorted(p.relative_to(checkout) for p in checkout.rglob("*"))
    env = clean_env(
        PATH=no_sudo_path(scratch),
        AARDCHECK_PREFIX=str(scratch / "opt"),
        AARDCHECK_BIN_DIR=str(scratch / "bin"),
        CONTAINERS_CONF=str(rootful_host.containers_conf),
    )
    done = run(["bash", "-c", command], env=env, cwd=checkout)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-3000:]
    assert INSTALLED in done.stderr
    assert CHECK_SUMMARY.search(done.stdout), done.stdout[-2000:]
    linked = scratch / "bin" / "aardcheck"
    assert linked.resolve() == (scratch / "opt" / "bin" / "aardcheck").resolve()
    assert run([linked, "--version"]).stdout.startswith("aardcheck ")
    # built from a copy: no build/ or egg-info left in the checkout
    assert sorted(p.relative_to(checkout) for p in checkout.rglob("*")) == before


def test_install_as_a_user_without_sudo_says_what_to_run(
    rootless_host: PodmanHost, scratch: Path
) -> None:
    checkout = copy_checkout(scratch)
    done = rootless_host.exec(
        "bash", "-c", f"cd {checkout} && scripts/install.sh check", check=False
    )
    assert done.returncode == 2
    assert "must run as root" in done.stderr and "sudo scripts/install.sh check" in done.stderr
    assert not (scratch / "opt").exists()


def test_quick_start_with_sudo_as_a_user(rootless_host: PodmanHost, scratch: Path) -> None:
    """The user's own clone, ``sudo scripts/install.sh check``: installs as root, checks
    rootful podman, and leaves nothing owned by root in the user's checkout."""
    if shutil.which("sudo") is None:
        pytest.fail("sudo missing: scripts/setup-host.sh installs it", pytrace=False)
    command = quick_start("sudo ")
    assert command == "sudo scripts/install.sh check"
    user = rootless_host.user
    assert user is not None
    checkout = copy_checkout(scratch)
    for path in [scratch, *scratch.rglob("*")]:
        os.chown(path, user.uid, user.gid, follow_symlinks=False)
    # sudo keeps only what sudoers lets through: the test's prefixes, the harness's
    # containers.conf and pip's settings (a CA bundle behind a TLS-inspecting proxy)
    keep = " ".join(["AARDCHECK_PREFIX", "AARDCHECK_BIN_DIR", "CONTAINERS_CONF", "PIP_*"])
    script = checkout / "scripts" / "install.sh"
    sudoers = Path("/etc/sudoers.d") / user.name.replace(".", "_")
    try:
        sudoers.write_text(
            f'Defaults:{user.name} env_keep += "{keep}"\n'
            f"{user.name} ALL=(root) NOPASSWD: {script}\n"
        )
        sudoers.chmod(0o440)
        extra = pip_env() | {
            "AARDCHECK_PREFIX": str(scratch / "opt"),
            "AARDCHECK_BIN_DIR": str(scratch / "bin"),
            "CONTAINERS_CONF": str(rootless_host.session.containers_conf),
        }
        done = rootless_host.exec(
            "bash", "-c", f"cd {checkout} && {command}", extra_env=extra, check=False, timeout=480
        )
    finally:
        sudoers.unlink(missing_ok=True)
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-3000:]
    assert INSTALLED in done.stderr
    assert CHECK_SUMMARY.search(done.stdout), done.stdout[-2000:]
    assert (scratch / "opt" / "bin" / "aardcheck").stat().st_uid == 0
    root_owned = [p for p in checkout.rglob("*") if p.lstat().st_uid != user.uid]
    assert root_owned == []
