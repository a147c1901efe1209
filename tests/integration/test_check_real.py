"""`aardcheck check` against real podman, with stale entries made the way the field makes them."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.integration.helpers import check_json, kinds
from tests.realpodman import PodmanHost
from tests.realpodman.invoke import run_aardcheck
from tests.realpodman.recipes import forgetting_orphan
from tests.realpodman.stack import current_stack


def test_healthy_network_is_clean(rootful_host: PodmanHost, net_name: Callable[[str], str]) -> None:
    net = rootful_host.network_create(net_name("ok"))
    rootful_host.run(net_name("web1"), {net: ["web"]})
    rootful_host.run(net_name("web2"), {net: ["web"]})  # a scaled alias is no finding
    code, doc = check_json(rootful_host, net)
    assert (code, doc["findings"]) == (0, []), doc["findings"]
    assert doc["checked"]["probed"] and doc["probes"], "the names must really be asked"
    assert all(
        t["status"] == "answer" for p in doc["probes"] for t in p["tries"] if p["rdtype"] == "A"
    )
    text = run_aardcheck("check", "--network", net, host=rootful_host)
    assert text.returncode == 0 and "clean: no findings" in text.stdout


def test_vanished_netns_seed_symptom(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """The seed: `app` answers a live and a dead address; check names both."""
    net = rootful_host.network_create(net_name("seed"))
    old = rootful_host.run(net_name("old"), {net: ["app"]})
    stale = rootful_host.make_natural_stale(old.name)
    new = rootful_host.run(net_name("new"), {net: ["app"]})
    dead_ip, live_ip = stale.ips[net], new.ips[net]
    assert rootful_host.dig(net, "app") == {dead_ip, live_ip}  # the field symptom

    code, doc = check_json(rootful_host, net)
    assert code == 1
    found = kinds(doc)
    assert ("dead-entry", net, old.id, dead_ip) in found
    app = [f for f in doc["findings"] if f["kind"] == "dns-mismatch" and f["name"] == "app"]
    assert [f["address"] for f in app] == [dead_ip]
    dead = next(f for f in doc["findings"] if f["kind"] == "dead-entry")
    assert f"'app' also answers live {live_ip}" in dead["message"]
    assert not any(f["container_id"] == new.id for f in doc["findings"])

    text = run_aardcheck("check", "--network", net, host=rootful_host)
    assert text.returncode == 1
    assert "dead-entry" in text.stdout and dead_ip in text.stdout and live_ip in text.stdout


def test_missing_sibling_file_leaves_line(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    a = rootful_host.network_create(net_name("sa"))
    b = rootful_host.network_create(net_name("sb"))
    stale = rootful_host.make_missing_sibling_stale(a, b)
    code, doc = check_json(rootful_host, b, extra=("--no-probe",))
    assert code == 1
    assert ("dead-entry", b, stale.container_id, stale.ips[b]) in kinds(doc), [
        f["message"] for f in doc["findings"]
    ]


def test_orphan_file_then_recreated_network(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    net = rootful_host.network_create(net_name("orph"))
    stale = rootful_host.make_orphan_file(net)
    code, doc = check_json(rootful_host, net)
    assert code == 1
    assert ("orphan-file", net, "", "") in kinds(doc)
    # podman-compose up re-creates the network: the stale line comes back to life
    rootful_host.network_create(net, subnet=None)
    code, doc = check_json(rootful_host, net, extra=("--no-probe",))
    assert code == 1
    assert ("dead-entry", net, stale.container_id, stale.ips[net]) in kinds(doc), doc["findings"]


def test_recreated_network_hands_the_dead_lines_address_on(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """podman 5.4 forgets a removed network's address allocations: the first member of
    the re-created network gets the orphan line's address, so the stale names answer a
    live but wrong container (address-conflict, critical). podman 4.3 hands out another
    address and the line stays plainly dead."""
    host = rootful_host
    subnet = host.free_subnet()
    net = host.network_create(net_name("reuse"), subnet=subnet)
    stale = host.make_orphan_file(net)
    host.network_create(net, subnet=subnet)
    live = host.run(net_name("new"), {net: ["web"]})
    reused = live.ips[net] == stale.ips[net]
    assert reused == (current_stack().podman >= (5,)), (live.ips, stale.ips)
    code, doc = check_json(host, net, extra=("--no-probe",))
    assert code == 1
    found = kinds(doc)
    if reused:
        assert ("address-conflict", net, stale.container_id, stale.ips[net]) in found
        (conflict,) = [f for f in doc["findings"] if f["kind"] == "address-conflict"]
        assert conflict["severity"] == "critical" and live.name in conflict["message"]
    else:
        assert ("dead-entry", net, stale.container_id, stale.ips[net]) in found


def test_orphan_file_poisons_network_reusing_its_subnet(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    reused = rootful_host.make_reused_subnet_stale(net_name("old"), net_name("new"))
    with forgetting_orphan(rootful_host, reused.old_network):
        code, doc = check_json(rootful_host, reused.old_network, extra=("--no-probe",))
    assert code == 1
    (orphan,) = [f for f in doc["findings"] if f["kind"] == "orphan-file"]
    assert orphan["severity"] == "critical" and reused.new_network in orphan["message"]
    cannot_start = current_stack().aardvark >= (1, 12)  # 1.12+ binds every gateway at start
    assert ("cannot start again" in orphan["message"]) is cannot_start, orphan


def test_rootless_seed_and_healthy(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    net = rootless_host.network_create(net_name("rl"))
    old = rootless_host.run(net_name("rold"), {net: ["app"]})
    code, doc = check_json(rootless_host, net)
    assert (code, doc["findings"]) == (0, []), doc["findings"]
    assert doc["host"]["scope"] == "rootless" and doc["probes"]
    stale = rootless_host.make_natural_stale(old.name)
    new = rootless_host.run(net_name("rnew"), {net: ["app"]})
    code, doc = check_json(rootless_host, net)
    assert code == 1
    found = kinds(doc)
    assert ("dead-entry", net, old.id, stale.ips[net]) in found
    assert ("dns-mismatch", net, "", stale.ips[net]) in found
    assert not any(f["container_id"] == new.id for f in doc["findings"])


def test_podman_unreachable_is_exit_3(rootful_host: PodmanHost) -> None:
    proc = run_aardcheck("check", "--url", "unix:///nonexistent/podman.sock", host=rootful_host)
    assert proc.returncode == 3
    assert (
        proc.stderr.startswith("aardcheck: error: ") and len(proc.stderr.strip().splitlines()) == 1
    )
    assert proc.stdout == ""


def test_unknown_network_is_usage_error(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    proc = run_aardcheck("check", "--network", net_name("nosuch"), "--no-probe", host=rootful_host)
    assert proc.returncode == 2 and "no network named" in proc.stderr


def test_container_whose_netns_vanished_but_not_removed(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """A container whose conmon and process died and whose netns vanished, not removed.

    podman 4.3 cannot list any container in this state: exit 3, naming the container.
    podman 5.4 lists it as running (with a pid that no longer exists) until it is
    touched: its line answers a dead address, reported as a stopped entry (exit 1)."""
    from pathlib import Path

    from tests.realpodman.proc import run_command, wait_until
    from tests.realpodman.recipes import _gone, _kill, remove_dead_container

    net = rootful_host.network_create(net_name("half"))
    rootful_host.run(net_name("live"), {net: ["app"]})
    info = rootful_host.run(net_name("half"), {net: ["app"]})
    _kill(info.conmon_pid)
    _kill(info.pid)
    wait_until(lambda: _gone(info.pid) and _gone(info.conmon_pid), timeout=15, what="death")
    if run_command(["umount", info.sandbox_key], check=False, timeout=30).returncode:
        run_command(["umount", "-l", info.sandbox_key], timeout=30)
    Path(info.sandbox_key).unlink(missing_ok=True)

    try:
        proc = run_aardcheck("check", "--network", net, "--no-probe", host=rootful_host)
        listed = run_aardcheck(
            "check", "--network", net, "--no-probe", "--format", "json", host=rootful_host
        )
    finally:
        remove_dead_container(rootful_host, info.name)  # mends podman for later tests
    if current_stack().podman >= (5,):
        assert (proc.returncode, listed.returncode) == (1, 1), proc.stderr
        (finding,) = json.loads(listed.stdout)["findings"]
        assert (finding["kind"], finding["container_id"]) == ("stopped-entry", info.id)
        assert f"its process {info.pid} is gone" in finding["message"]
        assert f"podman rm -f {info.name}" in finding["fix"]
        return
    assert proc.returncode == 3 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    # (another container in the same state would be named instead: any one is the cause)
    assert "network namespace of container" in line and "podman rm -f" in line
