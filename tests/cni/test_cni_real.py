"""The CNI backend on real podman 4.3.1 (rootful, dnsname 1.3.1, dnsmasq 2.90).

A stale line made the way the field makes it - a container whose network namespace
vanished, so podman's teardown never reached the dnsname plugin - found by ``check``,
which names the network's backend in JSON and text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cni.cni_host import CniHost, cni_unavailable_reason
from tests.realpodman import HarnessSession, PodmanHost, in_ci, run_aardcheck, wait_until

pytestmark = pytest.mark.podman


@pytest.fixture(scope="module")
def cni_host(harness_session: HarnessSession) -> Iterator[CniHost]:
    reason = cni_unavailable_reason()
    if reason:
        # podman 5 has no CNI at all; anywhere else a missing piece is a broken CI setup
        if in_ci() and "podman 5" not in reason:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    host = CniHost(harness_session)
    try:
        host.ensure_image()
        yield host
    finally:
        host.cleanup()


def _nslookup(host: CniHost, container: str, name: str, server: str) -> set[str]:
    out = host.podman("exec", container, "nslookup", name, server, check=False).stdout
    answers = out.split(f"Name:\t{name}", 1)[-1] if f"Name:\t{name}" in out else ""
    return set(re.findall(r"Address: ([0-9.]+)", answers))


def _check(host: CniHost, url: str, net: str, *extra: str) -> tuple[int, str]:
    proc = run_aardcheck(
        "check", "--url", url, "--network", net, *extra, host=host, env=host.aardcheck_env(url)
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, proc.stdout


def test_naturally_stale_line_is_found_with_its_backend(cni_host: CniHost) -> None:
    host = cni_host
    net = host.cni_network("dn")
    old = host.run(host.session.new_name("old"), {net: ["app"]})
    assert host.make_vanished_netns_stale(old.name) == [net]
    new = host.run(host.session.new_name("new"), {net: ["app"]})
    dead_ip, live_ip = old.ips[net], new.ips[net]
    gateway = host.gateway(net)
    # the field symptom: the plugin's dnsmasq answers the dead address beside the live one
    assert _nslookup(host, new.name, "app", gateway) == {dead_ip, live_ip}

    with host.api_service() as url:
        code, out = _check(host, url, net, "--format", "json")
        doc = json.loads(out)
        assert code == 1
        assert doc["host"]["network_backend"] == "cni"
        assert doc["checked"]["backends"] == {net: "dnsname"}
        found = {(f["kind"], f["name"], f["address"]) for f in doc["findings"]}
        assert ("dead-entry", old.name, dead_ip) in found, doc["findings"]
        assert ("dns-mismatch", "app", dead_ip) in found, doc["findings"]
        assert not any(f["address"] == live_ip for f in doc["findings"]), doc["findings"]
        dead = next(f for f in doc["findings"] if f["kind"] == "dead-entry")
        assert dead["path"] == str(host.dnsname_dir(net) / "addnhosts")
        assert doc["checked"]["probed"] and any(p["name"] == "app" for p in doc["probes"])

        code, text = _check(host, url, net)
        assert code == 1
        assert f"network {net} (dnsname):" in text and "CNI backend (dnsname)" in text
        assert "dead-entry" in text and dead_ip in text


def test_fix_prunes_the_dead_line_under_the_plugins_lock_and_dnsmasq_reloads(
    cni_host: CniHost,
) -> None:
    host = cni_host
    net = host.cni_network("fx")
    old = host.run(host.session.new_name("old"), {net: ["app"]})
    host.make_vanished_netns_stale(old.name)
    new = host.run(host.session.new_name("new"), {net: ["app"]})
    dead_ip, live_ip = old.ips[net], new.ips[net]
    gateway = host.gateway(net)
    hosts = host.dnsname_dir(net) / "addnhosts"
    inode = hosts.stat().st_ino
    pid = int((host.dnsname_dir(net) / "pidfile").read_text())

    with host.api_service() as url:
        env = host.aardcheck_env(url)
        dry = run_aardcheck("fix", "--url", url, "--network", net, "--dry-run", host=host, env=env)
        assert dry.returncode == 1 and "prune" in dry.stdout, dry.stdout + dry.stderr
        assert hosts.stat().st_ino == inode, "--dry-run changed the file"

        proc = run_aardcheck(
            "fix", "--url", url, "--network", net, "--yes", "--format", "json", host=host, env=env
        )
        doc = json.loads(proc.stdout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert [c["status"] for c in doc["changes"]] == ["done"], doc["changes"]
        assert doc["after"]["findings"] == []
    lines = host.hosts_lines(net)
    assert not any(f"\t{old.name}\t" in f"{ln}\t" for ln in lines), lines
    assert any(f"\t{new.name}\t" in f"{ln}\t" for ln in lines), lines
    # the same dnsmasq, reloaded (not restarted): only the live address is served now
    assert int((host.dnsname_dir(net) / "pidfile").read_text()) == pid
    assert _nslookup(host, new.name, "app", gateway) == {live_ip}
    assert dead_ip not in _nslookup(host, new.name, "app", gateway)


def test_clean_prunes_the_dead_line_and_removes_the_orphan_directory(cni_host: CniHost) -> None:
    host = cni_host
    net, gone = host.cni_network("cl"), host.cni_network("cg")
    dead = host.run(host.session.new_name("dead"), {net: ["app"]})
    keep = host.run(host.session.new_name("keep"), {net: []})
    left = host.run(host.session.new_name("left"), {gone: []})
    host.make_vanished_netns_stale(dead.name)
    host.make_vanished_netns_stale(left.name)
    # `network rm -f` leaves the plugin's directory, its stale line and its dnsmasq
    host.podman("network", "rm", "-f", gone, timeout=90)
    orphan_pid = int((host.dnsname_dir(gone) / "pidfile").read_text())
    assert Path(f"/proc/{orphan_pid}").exists()

    with host.api_service() as url:
        proc = run_aardcheck(
            "clean", "--url", url, "--network", net, "--network", gone,
            host=host, env=host.aardcheck_env(url),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = host.hosts_lines(net)
    assert not any(f"\t{dead.name}\t" in f"{ln}\t" for ln in lines), lines
    assert any(f"\t{keep.name}\t" in f"{ln}\t" for ln in lines), lines
    assert not host.dnsname_dir(gone).exists()
    wait_until(lambda: not Path(f"/proc/{orphan_pid}").exists(), timeout=5, what="dnsmasq to stop")


def test_preflight_blocks_up_over_a_leftover_dnsname_directory_until_fixed(
    cni_host: CniHost,
) -> None:
    """``podman-compose up`` would re-create ``<project>_default``: dnsname then reuses the
    old directory, its ``dnsmasq.conf`` and its stale line (docs/cni.md)."""
    host = cni_host
    project = host.session.new_name("pf")
    net = f"{project}_default"
    host.networks_made.append(net)
    host.podman("network", "create", "--subnet", host.free_subnet(), net)
    web = host.run(host.session.new_name("web"), {net: ["web"]})
    host.make_vanished_netns_stale(web.name)
    host.podman("network", "rm", "-f", net, timeout=90)
    leftover = host.dnsname_dir(net)
    assert leftover.is_dir()
    compose = host.session.scratch_dir("pfc") / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: localhost/aardtest-bb:latest\n")
    args = ("-f", str(compose), "-p", project)

    with host.api_service() as url:
        env = host.aardcheck_env(url)
        checked = run_aardcheck("preflight", *args, "--url", url, "-o", "json", host=host, env=env)
        assert checked.returncode == 1, checked.stdout + checked.stderr
        doc = json.loads(checked.stdout)
        orphan = [(f["network"], f["path"]) for f in doc["findings"] if f["kind"] == "orphan-file"]
        assert orphan == [(net, str(leftover))]
        fixed = run_aardcheck("preflight", *args, "--url", url, "--fix", host=host, env=env)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert not leftover.exists()


def test_watch_fix_sees_the_natural_stale_line_and_prunes_it(cni_host: CniHost) -> None:
    """The watcher on a CNI podman: the container's removal (a podman event) leads to a
    check, the dead line appears, ``--fix`` prunes it under the plugin's lock."""
    from tests.watch.process import WatchProcess

    host = cni_host
    net = host.cni_network("wa")
    live = host.run(host.session.new_name("live"), {net: ["app"]})
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    with host.api_service() as url:
        watcher = WatchProcess(
            host, "--fix", "--network", net, "--interval", "600", "--url", url,
            env=host.aardcheck_env(url),
        )  # fmt: skip
        try:
            watcher.wait_ready()
            host.make_vanished_netns_stale(doomed.name)
            short = doomed.id[:12]
            watcher.wait_stderr(rf"appeared: \S+ dead-entry network={net} .*container={short}")
            watcher.wait_stderr(rf"repair done: prune-lines .*{net}")
            watcher.wait_stderr(rf"resolved: dead-entry network={net} .*container={short}")
            assert "repair failed" not in watcher.output()
            code, _seconds, left = watcher.stop()
            assert (code, left) == (0, []), watcher.output()
        finally:
            watcher.kill()
    lines = host.hosts_lines(net)
    assert not any(f"\t{doomed.name}\t" in f"{ln}\t" for ln in lines), lines
    assert any(f"\t{live.name}\t" in f"{ln}\t" for ln in lines), lines


@pytest.fixture(scope="module")
def rootless_cni_host(
    harness_session: HarnessSession, rootless_host: PodmanHost
) -> Iterator[CniHost]:
    """The session's rootless user, its podman on CNI in a store of its own (its own
    tmp_dir, so its own rootless network namespace)."""
    reason = cni_unavailable_reason()
    if reason:
        if in_ci() and "podman 5" not in reason:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    host = CniHost(harness_session, rootless_host.user)
    try:
        host.ensure_image()
        yield host
    finally:
        host.cleanup()


def test_rootless_stale_line_is_found_and_pruned(rootless_cni_host: CniHost) -> None:
    host = rootless_cni_host
    net = host.cni_network("rl")
    old = host.run(host.session.new_name("old"), {net: ["app"]})
    assert host.make_vanished_netns_stale(old.name) == [net]
    new = host.run(host.session.new_name("new"), {net: ["app"]})
    dead_ip, live_ip = old.ips[net], new.ips[net]
    hosts = host.dnsname_dir(net) / "addnhosts"
    assert str(hosts).startswith(str(host.user.runtime_dir))  # type: ignore[union-attr]

    with host.api_service() as url:
        env = host.aardcheck_env(url)
        code, out = _check(host, url, net, "--format", "json")
        doc = json.loads(out)
        assert code == 1 and doc["host"]["network_backend"] == "cni", out
        assert doc["host"]["scope"] == "rootless"
        found = {(f["kind"], f["name"], f["address"]) for f in doc["findings"]}
        assert ("dead-entry", old.name, dead_ip) in found, (doc["findings"], doc["probe_skipped"])
        assert ("dns-mismatch", "app", dead_ip) in found, doc["findings"]
        fixed = run_aardcheck("fix", "--url", url, "--network", net, "--yes", host=host, env=env)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    lines = host.hosts_lines(net)
    assert not any(f"\t{old.name}\t" in f"{ln}\t" for ln in lines), lines
    assert any(live_ip in ln for ln in lines), lines


def test_fix_reloads_a_running_container_whose_line_is_missing(cni_host: CniHost) -> None:
    """No natural way to lose a running container's line was found (dnsname's DEL only
    removes lines of the container being torn down), so this one is planted: the line is
    removed the way dnsname's own DEL would, under its lock. ``fix`` must not write it
    itself but have podman's reload (the plugin's DEL + ADD) put it back."""
    import fcntl
    import os

    host = cni_host
    net = host.cni_network("mi")
    keep = host.run(host.session.new_name("keep"), {net: ["app"]})
    lost = host.run(host.session.new_name("lost"), {net: ["db"]})
    directory = host.dnsname_dir(net)
    fd = os.open(directory / "lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        hosts = directory / "addnhosts"
        kept = [ln for ln in hosts.read_text().splitlines(True) if f"\t{lost.name}\t" not in ln]
        hosts.write_text("".join(kept))
    finally:
        os.close(fd)

    with host.api_service() as url:
        env = host.aardcheck_env(url)
        code, out = _check(host, url, net, "--format", "json")
        found = {(f["kind"], f["name"]) for f in json.loads(out)["findings"]}
        assert code == 1 and ("missing-entry", lost.name) in found, out
        proc = run_aardcheck(
            "fix", "--url", url, "--network", net, "--yes", "--format", "json", host=host, env=env
        )
        doc = json.loads(proc.stdout)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert [(c["action"], c["status"]) for c in doc["changes"]] == [
            ("reload-container", "done")
        ], doc["changes"]
    lines = host.hosts_lines(net)
    assert sum(f"\t{lost.name}\t" in f"{ln}\t" for ln in lines) == 1, lines
    assert sum(f"\t{keep.name}\t" in f"{ln}\t" for ln in lines) == 1, lines
    assert _nslookup(host, keep.name, "db", host.gateway(net)) == {lost.ips[net]}
