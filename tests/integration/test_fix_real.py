"""`aardcheck fix` against real podman: only dead lines go, every live byte stays."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.integration.helpers import check_json, fix
from tests.realpodman import PodmanHost
from tests.realpodman.invoke import run_aardcheck


def _live_lines(host: PodmanHost, net: str, dead_id: str) -> list[str]:
    return [line for line in host.aardvark_lines(net) if not line.startswith(dead_id)]


def _host_state(host: PodmanHost, net: str) -> tuple[object, ...]:
    """The session's file, networks and containers, as --dry-run must leave them (other
    sessions' may change meanwhile on a shared host)."""
    mine = host.session.prefix
    files = {p.name: p.read_bytes() for p in sorted(host.aardvark_dir.iterdir()) if p.name == net}
    networks = host.podman_json("network", "ls", "--format", "json")
    ids = sorted(n["id"] for n in networks if n["name"].startswith(mine))
    listed = host.podman_json("ps", "-a", "--filter", f"name={mine}", "--format", "json") or []
    containers = sorted(
        (c["Id"], c["State"], c.get("StartedAt"), tuple(c.get("Networks") or ())) for c in listed
    )
    return files, ids, containers


def _seed(host: PodmanHost, net_name: Callable[[str], str]) -> tuple[str, str, str, str]:
    """The seed symptom; returns (network, dead id, dead ip, live ip)."""
    net = host.network_create(net_name("fx"))
    old = host.run(net_name("fold"), {net: ["app"]})
    stale = host.make_natural_stale(old.name)
    new = host.run(net_name("fnew"), {net: ["app"]})
    host.run(net_name("fdb"), {net: ["db"]})
    assert host.dig(net, "app") == {stale.ips[net], new.ips[net]}
    return net, stale.container_id, stale.ips[net], new.ips[net]


def _fix_seed(host: PodmanHost, net_name: Callable[[str], str]) -> None:
    net, dead_id, _dead_ip, live_ip = _seed(host, net_name)
    before = _live_lines(host, net, dead_id)
    file_path = host.aardvark_file(net)
    mode_before = file_path.stat().st_mode

    state_before = _host_state(host, net)
    dry = run_aardcheck("fix", "--dry-run", "--network", net, host=host)
    assert dry.returncode == 1 and "prune line(s)" in dry.stdout and "dry run" in dry.stdout
    assert _host_state(host, net) == state_before, "--dry-run changed something"

    proc = fix(host, net, extra=("--format", "json"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert [c["status"] for c in doc["changes"] if c["action"] == "prune-lines"] == ["done"]
    assert doc["after"]["findings"] == []
    assert "prune-lines" in proc.stderr  # every change is logged to stderr too

    assert not any(line.startswith(dead_id) for line in host.aardvark_lines(net))
    assert _live_lines(host, net, dead_id) == before  # live lines byte-identical, same order
    assert file_path.stat().st_mode == mode_before
    assert host.dig(net, "app") == {live_ip}  # dig from inside the network agrees
    code, _ = check_json(host, net)
    assert code == 0


def test_fix_seed_rootful(rootful_host: PodmanHost, net_name: Callable[[str], str]) -> None:
    _fix_seed(rootful_host, net_name)


def test_fix_seed_rootless(rootless_host: PodmanHost, net_name: Callable[[str], str]) -> None:
    _fix_seed(rootless_host, net_name)


def test_fix_deletes_orphan_file_and_recreate_is_clean(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    net = rootful_host.network_create(net_name("fo"))
    rootful_host.make_orphan_file(net)
    assert rootful_host.read_aardvark_file(net) is not None
    proc = fix(rootful_host, net)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rootful_host.read_aardvark_file(net) is None
    rootful_host.network_create(net)
    rootful_host.run(net_name("fo2"), {net: ["app"]})
    code, doc = check_json(rootful_host, net)
    assert (code, doc["findings"]) == (0, [])


def test_fix_without_yes_and_no_terminal_refuses(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    net = rootful_host.network_create(net_name("fy"))
    proc = run_aardcheck("fix", "--network", net, host=rootful_host, input_text="")
    assert proc.returncode == 2 and "--yes" in proc.stderr
