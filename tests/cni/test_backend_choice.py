"""The backend comes from podman: a rootful host where the dnsname plugin has run is
ambiguous from the outside, so the check asks ``GET /info`` instead of guessing netavark."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aardcheck.errors import EnvironmentUnavailable
from aardcheck.sources import podman_host
from aardcheck.sources.podman_api import PodmanSession
from tests.conftest import PODMAN_431_HEADERS as HEADERS


@pytest.fixture
def sock(silent_api_socket: Path) -> Path:
    return silent_api_socket


@pytest.mark.skipif(os.geteuid() != 0, reason="a root-owned socket needs root")
def test_dnsname_directory_makes_the_check_ask_info(
    sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "run" / "aardvark-dns").mkdir(parents=True)
    (tmp_path / "dnsname").mkdir()
    monkeypatch.setattr(podman_host, "ROOTFUL_RUN_DIR", tmp_path / "run")
    monkeypatch.setattr(podman_host, "_ROOTFUL_DNSNAME", tmp_path / "dnsname")
    made = PodmanSession(f"unix://{sock}", timeout=1, private=False)
    made._headers = dict(HEADERS)
    # nobody answers on the socket: asking /info is the only way this can fail
    with pytest.raises(EnvironmentUnavailable, match="/info"):
        made.host_info()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the socket to another user needs root")
def test_a_users_dnsname_directory_makes_the_check_ask_info(
    sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.chown(sock, 4242, 4242)
    root = tmp_path / "xdg" / "containers"
    monkeypatch.setattr(podman_host, "_rootless_run_roots", lambda uid: [root])
    (root / "networks" / "aardvark-dns").mkdir(parents=True)
    made = PodmanSession(f"unix://{sock}", timeout=1, private=False)
    made._headers = dict(HEADERS)
    assert made.host_info().network_backend == "netavark"  # unambiguous: no request
    (root / "cni" / "dnsname").mkdir(parents=True)
    with pytest.raises(EnvironmentUnavailable, match="/info"):
        made.host_info()
