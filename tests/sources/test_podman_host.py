"""What a check knows about the host without podman's ``GET /info`` (~300 ms on Debian):
the version from podman's reply headers, rootless or not from the socket's owner, the run
root from the usual places - and ``/info`` whenever any of it is ambiguous."""

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


def session(sock: Path, headers: dict[str, str]) -> PodmanSession:
    made = PodmanSession(f"unix://{sock}", timeout=1, private=False)
    made._headers = dict(headers)
    return made


def test_rootful_from_headers_without_a_request(
    sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("a root-owned socket needs root")
    (tmp_path / "run" / "aardvark-dns").mkdir(parents=True)
    monkeypatch.setattr(podman_host, "ROOTFUL_RUN_DIR", tmp_path / "run")
    # a CNI test on this host may have a dnsname directory right now (tests/cni)
    monkeypatch.setattr(podman_host, "_ROOTFUL_DNSNAME", tmp_path / "no-dnsname")
    info = session(sock, HEADERS).host_info()
    assert (info.podman_version, info.rootless, info.network_backend) == (
        "4.3.1",
        False,
        "netavark",
    )


def test_rootless_run_root_found_in_one_usual_place(
    sock: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving the socket to another user needs root")
    os.chown(sock, 4242, 4242)
    roots = [tmp_path / "xdg" / "containers", tmp_path / "tmp" / "containers"]
    monkeypatch.setattr(podman_host, "_rootless_run_roots", lambda uid: roots)
    (roots[1] / "networks" / "aardvark-dns").mkdir(parents=True)
    info = session(sock, HEADERS).host_info()
    assert (info.rootless, info.uid, info.run_root) == (True, 4242, roots[1])
    (roots[0] / "networks" / "aardvark-dns").mkdir(parents=True)  # now two: ask podman
    with pytest.raises(EnvironmentUnavailable, match="/info"):
        session(sock, HEADERS).host_info()


def test_no_version_header_or_a_repair_asks_podman(sock: Path) -> None:
    with pytest.raises(EnvironmentUnavailable, match="/info"):
        session(sock, {}).host_info()
    with pytest.raises(EnvironmentUnavailable, match="/info"):
        session(sock, HEADERS).host_info(detailed=True)
