"""The harness itself: each recipe really leaves a stale line, DNS really answers it,
and cleanup really leaves nothing behind, rootful and rootless."""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.realpodman import (
    ContainerInfo,
    HarnessError,
    HarnessSession,
    PlantedStale,
    PodmanHost,
    RecipeError,
    create_user,
    dns,
    run_aardcheck,
)
from tests.realpodman.api import ping
from tests.realpodman.availability import NO_PODMAN_ENV
from tests.realpodman.cleanup import cleanup_session, orphaned_prefixes
from tests.realpodman.host import ROOTFUL_NETWORK_CONFIG_DIR
from tests.realpodman.invoke import REPO_ROOT
from tests.realpodman.lifecycle import reap_abandoned_sessions
from tests.realpodman.pathdiag import path_report, proc_address
from tests.realpodman.recipes import forgetting_orphan, remove_tree
from tests.realpodman.session import CONTAINERS_CONF_TEXT, PREFIX_RE
from tests.realpodman.stack import current_stack
from tests.realpodman.users import SUBID_FILES, subid_ranges

NetName = Callable[[str], str]


def _assert_dead_and_live(
    host: PodmanHost, net: str, stale: PlantedStale, live: ContainerInfo
) -> None:
    """The stale line is in the file and DNS answers the alias with dead + live address."""
    assert stale.container_id in host.aardvark_ids(net)
    assert not host.container_exists(stale.container_name)
    dead_ip, live_ip = stale.ips[net], live.ips[net]
    assert dead_ip != live_ip
    assert dead_ip not in {host.container(m).ips.get(net) for m in host.members(net)}
    assert host.wait_for_answers(net, "app", {dead_ip, live_ip}, via=live.name) == {
        dead_ip,
        live_ip,
    }


# ---- pure pieces (no podman) -------------------------------------------------------------


def test_container_info_reads_inspect_json() -> None:
    info = ContainerInfo.from_inspect(
        {
            "Id": "ab" * 32,
            "Name": "aardtest-000000-c1",
            "State": {"Running": True, "Pid": 42, "ConmonPid": 41},
            "NetworkSettings": {
                "SandboxKey": "/run/netns/netns-x",
                "Networks": {"n1": {"IPAddress": "10.0.0.2", "Aliases": ["app", "abababababab"]}},
            },
        }
    )
    assert (info.pid, info.conmon_pid, info.running) == (42, 41, True)
    assert info.ips == {"n1": "10.0.0.2"}
    assert info.aliases["n1"] == ("app", "abababababab")
    assert info.short_id == "abababababab"


def test_subid_ranges_parse_only_the_named_user(tmp_path: Path) -> None:
    subuid = tmp_path / "subuid"
    subuid.write_text("alice:100000:65536\nbob:165536:65536\nbad line\nalice:x:1\n")
    assert subid_ranges("alice", subuid) == [(100000, 65536)]
    assert subid_ranges("carol", subuid) == []


def _pytest_without_podman(ci: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {NO_PODMAN_ENV: "1", "CI": ci}
    test = "tests/realpodman/test_harness.py::test_session_prefix_config_and_naming"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", test],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_podman_skips_locally_and_fails_in_ci() -> None:
    local = _pytest_without_podman(ci="")
    assert local.returncode == 0, local.stdout
    assert "1 skipped" in local.stdout
    ci = _pytest_without_podman(ci="true")
    assert ci.returncode == 1, ci.stdout
    assert "real podman is required in CI" in ci.stdout
    assert "1 failed" in ci.stdout or "1 error" in ci.stdout


# ---- rootful ---------------------------------------------------------------------------


def test_proc_net_addresses_read_as_the_kernel_writes_them() -> None:
    assert proc_address("0100007F", 4) == ipaddress.IPv4Address("127.0.0.1")
    assert proc_address("0000000000000000FFFF0000010D590A", 6) == ipaddress.IPv6Address(
        "::ffff:10.89.13.1"
    )


@pytest.mark.podman
def test_the_harness_sees_where_aardvark_listens(
    rootful_host: PodmanHost, net_name: NetName
) -> None:
    """What the harness's dig looks at before it reloads a silent aardvark-dns."""
    host = rootful_host
    net = host.network_create(net_name("ears"))
    member = host.run(host.session.new_name("ears"), {net: ["app"]})
    assert host.dig(net, member.name, via=member.name) == {member.ips[net]}
    pid = dns._aardvark_pid(host)
    assert pid is not None and host.gateway(net) in dns.listening(pid)


@pytest.mark.podman
def test_the_path_report_shows_a_probe_on_the_bridge(
    rootful_host: PodmanHost, net_name: NetName
) -> None:
    """What a DNS probe failure adds: both sides' state and the probe's own frames."""
    host = rootful_host
    net = host.network_create(net_name("path"))
    member = host.container(host.run(host.session.new_name("path"), {net: ["app"]}).name)
    gateway, address = host.gateway(net), member.ips[net]
    report = path_report(host, net, member, gateway)
    print(report)
    assert f"{address}/" in report  # the member's own address, inside its netns
    assert f"{address} dev " in report  # the host's route to it
    # the capture saw the query leave the member for the gateway, and the answer back
    assert re.search(rf"to-host .* udp {re.escape(address)}:\d+ > {re.escape(gateway)}:53", report)
    assert re.search(rf"outgoing .* udp {re.escape(gateway)}:53 > {re.escape(address)}:", report)
    assert "exit 0" in report, report


@pytest.mark.podman
def test_session_prefix_config_and_naming(rootful_host: PodmanHost, net_name: NetName) -> None:
    session = rootful_host.session
    assert PREFIX_RE.match(session.prefix)
    assert session.containers_conf.read_text() == CONTAINERS_CONF_TEXT
    runtime = rootful_host.podman("info", "--format", "{{.Host.OCIRuntime.Name}}").stdout
    assert runtime.strip() == "runc"
    assert rootful_host.aardvark_dir == Path("/run/containers/networks/aardvark-dns")
    net = rootful_host.network_create("plain")  # qualified with the prefix
    assert net.startswith(session.prefix)
    assert net_name("web").startswith(session.prefix)
    with pytest.raises(HarnessError, match="refusing"):
        rootful_host.rm("podman-not-ours")
    with pytest.raises(HarnessError, match="refusing"):
        rootful_host.network_rm("podman")


@pytest.mark.podman
def test_vanished_netns_rootful(rootful_host: PodmanHost, net_name: NetName) -> None:
    host = rootful_host
    net = host.network_create(net_name("vanish"))
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    stale = _vanish(host, net, doomed)
    if stale is None:
        return
    assert stale.networks == (net,)
    assert stale.aliases == ("app",)
    line = next(x for x in host.aardvark_lines(net) if x.startswith(stale.container_id))
    assert line.split(" ")[1] == stale.ips[net]
    live = host.run(host.session.new_name("live"), {net: ["app"]})
    _assert_dead_and_live(host, net, stale, live)
    assert host.dig(net, doomed.name, via=live.name) == {stale.ips[net]}
    assert host.dig(net, host.session.new_name("absent"), via=live.name) == set()


@pytest.mark.podman
def test_missing_sibling_rootful(rootful_host: PodmanHost, net_name: NetName) -> None:
    host = rootful_host
    net_a, net_b = host.network_create(net_name("sib-a")), host.network_create(net_name("sib-b"))
    stale = host.make_missing_sibling_stale(net_a, net_b)
    assert stale.networks == (net_b,)
    assert host.read_aardvark_file(net_a) is None
    live = host.run(host.session.new_name("live"), {net_b: ["app"]})
    _assert_dead_and_live(host, net_b, stale, live)


@pytest.mark.podman
def test_foreign_store_network_rm_rootful(rootful_host: PodmanHost, net_name: NetName) -> None:
    host = rootful_host
    net = host.network_create(net_name("foreign"))
    victim = host.run(host.session.new_name("victim"), {net: ["app"]})
    (stale,) = host.make_foreign_store_network_rm(net)
    assert stale.container_id == victim.id
    assert not host.network_exists(net)
    assert not (ROOTFUL_NETWORK_CONFIG_DIR / f"{net}.json").exists()
    assert victim.id in host.aardvark_ids(net)
    assert not host.container_exists(victim.name)


@pytest.mark.podman
def test_orphan_file_comes_back_with_its_network_rootful(
    rootful_host: PodmanHost, net_name: NetName
) -> None:
    host = rootful_host
    subnet = host.free_subnet()
    net = host.network_create(net_name("orphan"), subnet=subnet)
    stale = host.make_orphan_file(net)
    assert not host.network_exists(net)
    assert stale.container_id in host.aardvark_ids(net)
    host.network_create(net, subnet=subnet)  # as podman-compose up would
    # podman 5 gives the first new member the dead line's address (its IPAM forgot it):
    # the dead-and-live symptom needs another one (the reuse is tested in integration/)
    other = str(ipaddress.ip_address(stale.ips[net]) + 10)
    live = host.run(host.session.new_name("live"), {net: ["app"]}, ip=other)
    _assert_dead_and_live(host, net, stale, live)


@pytest.mark.podman
def test_reused_subnet_rootful(rootful_host: PodmanHost, net_name: NetName) -> None:
    host = rootful_host
    reused = host.make_reused_subnet_stale(net_name("old"), net_name("new"))
    with forgetting_orphan(host, reused.old_network):
        assert not host.network_exists(reused.old_network)
        assert host.network_inspect(reused.new_network)["subnets"][0]["subnet"] == reused.subnet
        assert {reused.stale.container_id, reused.bystander.container_id} <= host.aardvark_ids(
            reused.old_network
        )
        live = host.run(
            host.session.new_name("live"), {reused.new_network: ["app"]}, ip=reused.shared_ip
        )
        dead_ip = reused.stale.ips[reused.old_network]
        expected = {dead_ip, reused.shared_ip}
        answers = host.wait_for_answers(reused.new_network, "app", expected, via=live.name)
        assert answers == expected


@pytest.mark.podman
def test_api_service_and_cli_rootful(rootful_host: PodmanHost) -> None:
    with rootful_host.api_service() as url:
        socket_path = Path(url.removeprefix("unix://"))
        assert ping(socket_path)
    assert not socket_path.exists()
    result = run_aardcheck("--help", host=rootful_host)
    assert result.returncode == 0, result.stderr
    assert "aardcheck" in result.stdout


def _iptables_mentions(subnets: list[str]) -> list[str]:
    rules = subprocess.run(
        ["iptables-save"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [line for line in rules.splitlines() if any(s in line for s in subnets)]


@pytest.mark.podman
def test_cleanup_leaves_nothing_behind_rootful(rootful_host: PodmanHost) -> None:
    child = HarnessSession.create()
    host = PodmanHost(child)
    try:
        host.ensure_image()
        # a stale line with its leaked bridge, a network removed behind podman's back
        # with its container still there, and an orphan file
        vanish = host.network_create("vanish")
        host.make_natural_stale(host.run("doomed", {vanish: ["app"]}).name)
        foreign = host.network_create("foreign")
        host.run("victim", {foreign: ["app"]})
        host.make_foreign_store_network_rm(foreign, remove_containers=False)
        host.make_orphan_file(host.network_create("orphan"))
        saved = child.saved_network_definitions()
        bridges = [str(d["network_interface"]) for d in saved.values()]
        subnets = [str(s["subnet"]) for d in saved.values() for s in d["subnets"]]  # type: ignore[attr-defined]
        assert any(Path(f"/sys/class/net/{b}").exists() for b in bridges)
    finally:
        problems = cleanup_session(child)
    assert not problems, "\n".join(problems)
    assert rootful_host.containers(child.prefix) == []
    assert [n for n in rootful_host.networks() if child.owns(n)] == []
    assert [p.name for p in rootful_host.aardvark_dir.iterdir() if child.owns(p.name)] == []
    assert list(ROOTFUL_NETWORK_CONFIG_DIR.glob(f"{child.prefix}*")) == []
    # podman hands freed bridge names and our pool's subnets to later networks (of other
    # sessions too): only those no network uses now must be gone
    in_use = rootful_host.podman_json("network", "ls", "--format", "json")
    used_bridges = {n["network_interface"] for n in in_use}
    used_subnets = {s["subnet"] for n in in_use for s in n.get("subnets") or []}
    bridges = [b for b in bridges if b not in used_bridges]
    assert [b for b in bridges if Path(f"/sys/class/net/{b}").exists()] == []
    assert _iptables_mentions([s for s in subnets if s not in used_subnets]) == []
    assert not child.workdir.exists()


def _processes_of_uid(uid: int) -> list[str]:
    """Live (not zombie) processes whose real uid is ``uid``."""
    pattern = re.compile(rf"^Uid:\s+{uid}\s", re.M)
    zombie = re.compile(r"^State:\s+Z", re.M)
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            if pattern.search(text) and not zombie.search(text):
                found.append(status.parent.name)
        except OSError:
            continue
    return found


@pytest.mark.podman
def test_sessions_of_dead_processes_are_reaped(rootful_host: PodmanHost) -> None:
    dead_owner, lost_dir = HarnessSession.create(), HarnessSession.create()
    for child in (dead_owner, lost_dir):
        host = PodmanHost(child)
        host.run("c", {host.network_create("n"): ["app"]})
    # pid 1 with another start time: the owner process is gone
    (dead_owner.workdir / "owner.json").write_text('{"pid": 1, "start": -1}')
    remove_tree(lost_dir.workdir)  # as if the process died after losing its directory
    assert lost_dir.prefix in orphaned_prefixes()
    problems = reap_abandoned_sessions()
    for child in (dead_owner, lost_dir):
        assert not [p for p in problems if p.startswith(child.prefix)]
        assert rootful_host.containers(child.prefix) == []
        assert [n for n in rootful_host.networks() if child.owns(n)] == []
        assert not child.workdir.exists()


# ---- rootless --------------------------------------------------------------------------


@pytest.mark.rootless
def test_rootless_host_layout(rootless_host: PodmanHost) -> None:
    user = rootless_host.user
    assert user is not None and user.name == rootless_host.session.qualify("u")
    assert rootless_host.runroot == user.runtime_dir / "containers"
    assert rootless_host.aardvark_dir == user.runtime_dir / "containers/networks/aardvark-dns"
    assert all(subid_ranges(user.name, path) for path in SUBID_FILES)
    whoami = rootless_host.exec("id", "-un").stdout.strip()
    assert whoami == user.name


@pytest.mark.rootless
def test_vanished_netns_rootless(rootless_host: PodmanHost, net_name: NetName) -> None:
    host = rootless_host
    net = host.network_create(net_name("vanish"))
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    stale = _vanish(host, net, doomed)
    if stale is None:
        return
    assert stale.networks == (net,)
    live = host.run(host.session.new_name("live"), {net: ["app"]})
    _assert_dead_and_live(host, net, stale, live)


def _vanish(host: PodmanHost, net: str, doomed: ContainerInfo) -> PlantedStale | None:
    """The vanished-netns recipe, with what this stack's netavark does after it."""
    if current_stack().vanished_netns_keeps_line:
        return host.make_vanished_netns_stale(doomed.name)
    # netavark 1.14 goes on without the netns and removes the DNS line: nothing stale.
    with pytest.raises(RecipeError, match="no aardvark file kept"):
        host.make_vanished_netns_stale(doomed.name)
    assert doomed.id.lower() not in host.aardvark_ids(net)
    assert not host.container_exists(doomed.name)
    return None


@pytest.mark.parametrize("who", ["rootful", "rootless"])
def test_failed_teardown(who: str, request: pytest.FixtureRequest, net_name: NetName) -> None:
    """The read-only teardown leaves the line on every stack, rootful and rootless."""
    host: PodmanHost = request.getfixturevalue(f"{who}_host")
    net = host.network_create(net_name("rofail"))
    doomed = host.run(host.session.new_name("doomed"), {net: ["app"]})
    stale = host.make_failed_teardown_stale(doomed.name)
    assert stale.networks == (net,)
    assert stale.aliases == ("app",)
    assert not host.container_exists(doomed.name)
    live = host.run(host.session.new_name("live"), {net: ["app"]})
    _assert_dead_and_live(host, net, stale, live)
    assert host.aardvark_file(net).stat().st_mode & 0o200  # writable again afterwards


@pytest.mark.rootless
def test_missing_sibling_rootless(rootless_host: PodmanHost, net_name: NetName) -> None:
    host = rootless_host
    net_a, net_b = host.network_create(net_name("sib-a")), host.network_create(net_name("sib-b"))
    stale = host.make_missing_sibling_stale(net_a, net_b)
    live = host.run(host.session.new_name("live"), {net_b: ["app"]})
    _assert_dead_and_live(host, net_b, stale, live)


@pytest.mark.rootless
def test_orphan_and_reused_subnet_rootless(rootless_host: PodmanHost, net_name: NetName) -> None:
    host = rootless_host
    reused = host.make_reused_subnet_stale(net_name("old"), net_name("new"))
    with forgetting_orphan(host, reused.old_network):
        assert not host.network_exists(reused.old_network)
        assert reused.stale.container_id in host.aardvark_ids(reused.old_network)
        live = host.run(
            host.session.new_name("live"), {reused.new_network: ["app"]}, ip=reused.shared_ip
        )
        dead_ip = reused.stale.ips[reused.old_network]
        expected = {dead_ip, reused.shared_ip}
        answers = host.wait_for_answers(reused.new_network, "app", expected, via=live.name)
        assert answers == expected


@pytest.mark.rootless
def test_api_service_and_cli_rootless(rootless_host: PodmanHost) -> None:
    with rootless_host.api_service() as url:
        assert ping(Path(url.removeprefix("unix://")))
    result = run_aardcheck("--help", host=rootless_host)
    assert result.returncode == 0, result.stderr


@pytest.mark.rootless
def test_cleanup_leaves_nothing_behind_rootless(rootless_host: PodmanHost) -> None:
    child = HarnessSession.create()
    try:
        user = create_user(child)
        host = PodmanHost(child, user)
        host.ensure_image()
        net = host.network_create("vanish")
        host.make_natural_stale(host.run("doomed", {net: ["app"]}).name)
        host.run("live", {net: ["app"]})
        shm_lock = Path(f"/dev/shm/libpod_rootless_lock_{user.uid}")
        assert shm_lock.exists()
    finally:
        problems = cleanup_session(child)
    assert not problems, "\n".join(problems)
    with pytest.raises(KeyError):
        pwd.getpwnam(user.name)
    assert not user.runtime_dir.exists()
    assert not user.home.exists()
    assert not shm_lock.exists()
    assert not any(subid_ranges(user.name, path) for path in SUBID_FILES)
    assert _processes_of_uid(user.uid) == []
    assert not child.workdir.exists()
