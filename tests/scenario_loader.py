"""Build a Snapshot from a fixture directory (aardvark files + podman JSON)."""

from __future__ import annotations

import json
from ipaddress import ip_address
from pathlib import Path

from aardcheck.format.parse import parse_network_file
from aardcheck.models import (
    AardvarkVersion,
    AddressLiveness,
    DnsDirectory,
    Liveness,
    PodmanState,
    RunDir,
    Scope,
    Snapshot,
)
from aardcheck.sources.podman_json import (
    containers_from_compat,
    details_from_libpod,
    networks_from_libpod,
)

SCENARIOS = Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
VERSION = AardvarkVersion(1, 4, 0)


def load_scenario(case: str | Path) -> Snapshot:
    d = SCENARIOS / case if isinstance(case, str) else case
    podman = json.loads((d / "podman.json").read_text())
    dns_dir = d / "aardvark-dns"
    files = tuple(parse_network_file(p, p.read_bytes(), VERSION) for p in sorted(dns_dir.iterdir()))
    directory = DnsDirectory(run_dir=RunDir(d, Scope.ROOTFUL, 0), exists=True, files=files)
    state = PodmanState(
        containers=containers_from_compat(
            podman["containers"], details_from_libpod(podman["libpod"])
        ),
        networks=networks_from_libpod(podman["networks"]),
    )
    liveness = tuple(
        AddressLiveness(x["network"], ip_address(x["address"]), Liveness(x["liveness"]))
        for x in podman.get("liveness", [])
    )
    return Snapshot(directory=directory, podman=state, aardvark_version=VERSION, liveness=liveness)


def expected_identities(case: str) -> list[tuple[str, str, str, str, str]]:
    rows = json.loads((SCENARIOS / case / "expected.json").read_text())
    return sorted(tuple(r) for r in rows)  # type: ignore[misc]
