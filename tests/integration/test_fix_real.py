"""`aardcheck fix` against real podman: only dead lines go, every live byte stays."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.helpers import check_json, fix
from tests.realpodman import CommandError, PodmanHost, wait_until
from tests.realpodman.invoke import run_aardcheck
from tests.realpodman.recipes import forgetting_orphan
from tests.realpodman.stack import current_stack


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


@pytest.mark.rootless
def test_orphan_sharing_a_gateway_and_the_next_resolver_start(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """aardvark-dns 1.12+ binds every file's gateway when it starts: an orphan file that
    shares a live network's gateway makes its next start fail (1.14.0: `Address already in
    use`) and then no network of this user resolves. aardvark 1.4 starts and answers the
    orphan's names. `check` says which; `fix` deletes the orphan; the resolver starts."""
    host = rootless_host
    reused = host.make_reused_subnet_stale(net_name("old"), net_name("new"))
    orphan_file = host.aardvark_file(reused.old_network)
    with forgetting_orphan(host, reused.old_network):
        code, doc = check_json(host, reused.old_network, extra=("--no-probe",))
        assert code == 1
        (orphan,) = [f for f in doc["findings"] if f["kind"] == "orphan-file"]
        assert orphan["severity"] == "critical" and reused.new_network in orphan["message"]
        cannot_start = current_stack().aardvark >= (1, 12)
        assert ("cannot start again" in orphan["message"]) is cannot_start, orphan

        _stop_resolver(host)  # a crash or a reboot: the next container starts it again
        try:
            host.run(host.session.new_name("first"), [reused.new_network])
            started = True
        except CommandError as err:
            started = False
            assert "Address already in use" in err.stderr, err.stderr
        assert started is not cannot_start

        fixed = fix(host, reused.old_network, extra=("--no-probe",))
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert not orphan_file.exists()
        live = host.run(host.session.new_name("after"), {reused.new_network: ["app"]})
        only_live = {live.ips[reused.new_network]}
        answers = host.wait_for_answers(reused.new_network, "app", only_live, via=live.name)
        assert answers == only_live


def _stop_resolver(host: PodmanHost) -> None:
    """SIGKILL the user's aardvark-dns and drop its pid file (nothing reaps the zombie
    here, and netavark would take a zombie's pid for a running resolver)."""
    pid_file = host.aardvark_dir / "aardvark.pid"
    pid = int(pid_file.read_text())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "aardvark-dns"
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _dead(pid), timeout=10, what="aardvark-dns to die")
    pid_file.unlink()


def _dead(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))
