"""probe_networks: against a DNS server on loopback, then against real aardvark-dns.

Only names these tests created are ever asked; single-label names that aardvark 1.4
does not know are answered NXDOMAIN locally (never forwarded upstream).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from ipaddress import ip_address
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from aardcheck.models import AardvarkVersion, ProbeAnswer, ProbeSkipped, ProbeStatus
from aardcheck.sources import probe
from aardcheck.sources.probe import ProbeTarget, probe_networks
from tests.realpodman import PodmanHost, wait_until
from tests.realpodman.stack import current_stack

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="entering a namespace needs root")
OWN_NETNS = f"/proc/{os.getpid()}/ns/net"


# --------------------------------------------------------------------------- loopback


@dataclass
class FakeResolver:
    """Answers A questions from ``records``; NXDOMAIN otherwise; ``silent`` names dropped."""

    records: dict[str, list[str]] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    duplicated: set[str] = field(default_factory=set)
    rcodes: dict[str, dns.rcode.Rcode] = field(default_factory=dict)
    address: str = "127.0.0.2"
    port: int = 0
    #: Questions dropped before any is answered (a resolver silent for a moment).
    drop_first: int = 0

    def reply(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except Exception:  # the agent's empty "is the member still here" datagram
            return None
        name = query.question[0].name.to_text(omit_final_dot=True)
        if self.drop_first > 0:
            self.drop_first -= 1
            return None
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        if name in self.rcodes:
            response.set_rcode(self.rcodes[name])
        elif name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif query.question[0].rdtype == dns.rdatatype.A:
            rrset = dns.rrset.from_text(name + ".", 86400, "IN", "A", *self.records[name])
            response.answer.append(rrset)
        out = response.to_wire()
        if name in self.duplicated and response.answer:
            # repeat the last record (an A record with a compressed name is 16 bytes)
            ancount = int.from_bytes(out[6:8], "big") + 1
            out = out[:6] + ancount.to_bytes(2, "big") + out[8:] + out[-16:]
        return out


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeResolver]:
    fake = FakeResolver()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((fake.address, 0))
    sock.settimeout(0.1)
    fake.port = sock.getsockname()[1]
    monkeypatch.setattr(probe, "DNS_PORT", fake.port)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            answer = fake.reply(wire)
            if answer is not None:
                sock.sendto(answer, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield fake
    stop.set()
    thread.join(timeout=2)
    sock.close()


def loopback_target(names: tuple[str, ...], network: str = "lo") -> ProbeTarget:
    return ProbeTarget(network, ip_address("127.0.0.2"), OWN_NETNS, names, None)


def answer_of(answers: tuple[ProbeAnswer, ...], name: str, rdtype: str = "A") -> ProbeAnswer:
    (found,) = [a for a in answers if a.name == name and a.rdtype == rdtype]
    return found


@needs_root
def test_each_status_from_a_loopback_resolver(resolver: FakeResolver) -> None:
    resolver.records = {"web": ["10.1.0.2"], "app": ["10.1.0.2", "10.1.0.3"], "dup": ["10.1.0.9"]}
    resolver.duplicated = {"dup"}
    resolver.rcodes = {"broken": dns.rcode.SERVFAIL, "refused": dns.rcode.REFUSED}
    names = ("web", "app", "gone", "broken", "refused", "dup")
    answers, skipped = probe_networks([loopback_target(names)], count=2, timeout=0.5)
    assert skipped == ()
    assert [(a.name, a.rdtype) for a in answers] == [(n, t) for n in names for t in ("A", "AAAA")]
    app = answer_of(answers, "app")
    assert [t.status for t in app.tries] == [ProbeStatus.ANSWER] * 2
    assert app.tries[0].addresses == {ip_address("10.1.0.2"), ip_address("10.1.0.3")}
    assert app.tries[0].ttl == 86400
    assert answer_of(answers, "app", "AAAA").tries[0].status is ProbeStatus.NOANSWER
    assert answer_of(answers, "gone").tries[0].status is ProbeStatus.NXDOMAIN
    assert answer_of(answers, "broken").tries[0].status is ProbeStatus.SERVFAIL
    refused = answer_of(answers, "refused").tries[0]
    assert (refused.status, refused.detail) == (ProbeStatus.ERROR, "REFUSED")
    dup = answer_of(answers, "dup").tries[0]
    assert dup.addresses == {ip_address("10.1.0.9")}
    assert dup.detail == "2 records for 1 addresses"


@needs_root
def test_a_silent_resolver_gives_timeout_tries_in_bounded_time(resolver: FakeResolver) -> None:
    resolver.records = {"web": ["10.1.0.2"]}
    names = tuple(f"quiet{i}" for i in range(40))
    resolver.silent = set(names)
    started = time.monotonic()
    answers, skipped = probe_networks(
        [loopback_target(names, "dead"), loopback_target(("web",), "alive")], timeout=0.4
    )
    elapsed = time.monotonic() - started
    assert skipped == ()
    dead = [t for a in answers if a.network == "dead" for t in a.tries]
    assert len(dead) == 40 * 2 * 3 * probe.ATTEMPTS  # silence counts after two attempts
    assert {t.status for t in dead} == {ProbeStatus.TIMEOUT}
    assert answer_of(answers, "web").tries[0].status is ProbeStatus.ANSWER
    # one timeout per attempt: the networks are asked at once, the rest not sent
    assert elapsed < probe.probe_total_budget(0.4)


@needs_root
def test_one_silent_attempt_is_not_silence(resolver: FakeResolver) -> None:
    """A resolver that drops the first attempt's questions (a member leaving, a reload)
    and answers the second: only the second attempt's answers count."""
    resolver.records = {"web": ["10.1.0.2"]}
    resolver.drop_first = 3
    answers, skipped = probe_networks([loopback_target(("web",))], timeout=0.3, rdtypes=("A",))
    assert skipped == ()
    (web,) = answers
    assert [t.status for t in web.tries] == [ProbeStatus.ANSWER] * 3


@needs_root
def test_a_member_that_cannot_be_entered_is_replaced_by_an_alternate(
    resolver: FakeResolver, tmp_path: Path
) -> None:
    resolver.records = {"web": ["10.1.0.2"]}
    gone = str(tmp_path / "no-such-netns")
    target = replace(
        loopback_target(("web",)),
        netns_path=gone,
        alternates=((OWN_NETNS, ip_address("127.0.0.1")),),
    )
    answers, skipped = probe_networks([target], timeout=0.3, rdtypes=("A",))
    assert skipped == ()
    assert [t.status for t in answers[0].tries] == [ProbeStatus.ANSWER] * 3


@needs_root
def test_silent_then_gone_is_skipped_not_silent(resolver: FakeResolver, tmp_path: Path) -> None:
    """Silent from the first member, and the alternate cannot be entered: two attempts
    were not made, so the network is skipped (never resolver-down)."""
    resolver.silent = {"web"}
    gone = str(tmp_path / "no-such-netns")
    target = replace(loopback_target(("web",)), alternates=((gone, ip_address("127.0.0.1")),))
    answers, skipped = probe_networks([target], timeout=0.3, rdtypes=("A",))
    assert answers == ()
    assert [s.network for s in skipped] == ["lo"]
    assert "no second attempt" in skipped[0].reason


@needs_root
def test_a_name_that_cannot_be_asked_is_an_error_try(resolver: FakeResolver) -> None:
    bad = "x" * 64  # a DNS label holds at most 63 bytes
    answers, _ = probe_networks([loopback_target((bad,))], rdtypes=("A",))
    (only,) = answers
    assert only.tries[0].status is ProbeStatus.ERROR
    assert "cannot ask" in only.tries[0].detail


@needs_root
def test_asking_from_the_gateways_own_namespace_is_skipped(resolver: FakeResolver) -> None:
    target = ProbeTarget("lo", ip_address("127.0.0.1"), OWN_NETNS, ("web",), None)
    answers, skipped = probe_networks([target], timeout=0.3)
    assert answers == ()
    assert [s.network for s in skipped] == ["lo"]
    assert "holds the gateway itself" in skipped[0].reason


def test_a_missing_namespace_is_skipped_not_raised(tmp_path: Path) -> None:
    target = ProbeTarget("n", ip_address("10.0.0.1"), str(tmp_path / "gone"), ("web",), None)
    assert probe_networks([target]) == (
        (),
        (ProbeSkipped("n", f"cannot probe 10.0.0.1: {tmp_path / 'gone'}: no such file "
                           "(the namespace vanished)"),),
    )  # fmt: skip


# --------------------------------------------------------------------------- real podman


def member_target(host: PodmanHost, network: str, via: str, names: tuple[str, ...]) -> ProbeTarget:
    """Ask from ``via``'s namespace as aardcheck does: ``/proc/PID/ns/net``, its address."""
    member = host.container(via)
    network = host.session.qualify(network)
    return ProbeTarget(
        network=network,
        server=ip_address(host.gateway(network)),
        netns_path=f"/proc/{member.pid}/ns/net",
        names=names,
        rootless_uid=host.user.uid if host.user else None,
        source=ip_address(member.ips[network]),
    )


def addresses(answer: ProbeAnswer) -> set[str]:
    assert {t.status for t in answer.tries} == {ProbeStatus.ANSWER}, answer
    (found,) = {frozenset(str(a) for a in t.addresses) for t in answer.tries}
    return set(found)


@pytest.mark.podman
def test_live_names_and_a_shared_alias(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("probe"))
    a = host.run(host.session.new_name("a"), {net: ["shared"]})
    b = host.run(host.session.new_name("b"), {net: ["shared"]})
    gone = host.run(host.session.new_name("gone"), [net])
    host.rm(gone.name)
    names = (a.name, b.name, "shared", a.short_id, gone.name)
    answers, skipped = probe_networks([member_target(host, net, a.name, names)])
    assert skipped == ()
    assert addresses(answer_of(answers, a.name)) == {a.ips[net]}
    assert addresses(answer_of(answers, b.name)) == {b.ips[net]}
    assert addresses(answer_of(answers, a.short_id)) == {a.ips[net]}
    assert addresses(answer_of(answers, "shared")) == {a.ips[net], b.ips[net]}
    assert {t.ttl for t in answer_of(answers, "shared").tries} == {installed().answer_ttl}
    assert_not_known(answer_of(answers, gone.name))
    v6 = answer_of(answers, a.name, "AAAA")  # a known name with no AAAA record
    if forwards_unknown_names():  # 1.14 forwards that question upstream too
        assert all(not t.addresses and t.status is not ProbeStatus.ANSWER for t in v6.tries)
    else:
        assert {t.status for t in v6.tries} == {ProbeStatus.NOANSWER}
    # asked "as b" from a's namespace: refused before anything is sent
    wrong = replace(member_target(host, net, a.name, names), source=ip_address(b.ips[net]))
    (skip,) = probe_networks([wrong])[1]
    assert skip.reason.endswith(f"the namespace does not hold {b.ips[net]}: not the member's")


@pytest.mark.podman
def test_dual_stack_asked_over_each_gateway(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("six"), ipv6=True)
    a = host.run(host.session.new_name("a"), [net])
    v6 = str(host.inspect(a.name)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"])
    via = member_target(host, net, a.name, (a.name,))
    gateways = [ip_address(s["gateway"]) for s in host.network_inspect(net)["subnets"]]
    assert sorted(g.version for g in gateways) == [4, 6]
    targets = [ProbeTarget(net, g, via.netns_path, via.names, None) for g in gateways]
    answers, skipped = probe_networks(targets)
    assert skipped == ()
    for gateway in gateways:
        asked = tuple(x for x in answers if x.server == gateway)
        assert addresses(answer_of(asked, a.name, "A")) == {a.ips[net]}
        assert addresses(answer_of(asked, a.name, "AAAA")) == {v6}


@pytest.mark.podman
def test_a_vanished_netns_leaves_a_second_address(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("stale"))
    dead = host.run(host.session.new_name("dead"), {net: ["app"]})
    host.make_natural_stale(dead.name)
    live = host.run(host.session.new_name("live"), {net: ["app"]})
    answers, skipped = probe_networks([member_target(host, net, live.name, ("app",))])
    assert skipped == ()
    assert addresses(answer_of(answers, "app")) == {dead.ips[net], live.ips[net]}
    # and the dead container's own namespace can no longer be asked from
    gone = ProbeTarget(net, ip_address(host.gateway(net)), dead.sandbox_key, ("app",), None)
    assert probe_networks([gone])[0] == ()
    (skip,) = probe_networks([gone])[1]
    assert skip.network == net
    assert dead.sandbox_key in skip.reason


@pytest.mark.podman
def test_a_network_without_resolver_times_out_and_others_still_answer(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    quiet = host.network_create(net_name("nodns"), disable_dns=True)
    loud = host.network_create(net_name("dns"))
    q = host.run(host.session.new_name("q"), [quiet])
    w = host.run(host.session.new_name("w"), [loud])
    started = time.monotonic()
    targets = [
        member_target(host, quiet, q.name, (q.name,)),
        member_target(host, loud, w.name, (w.name,)),
    ]
    answers, skipped = probe_networks(targets, timeout=0.5)
    elapsed = time.monotonic() - started
    assert skipped == ()
    quiet_tries = [t for a in answers if a.network == quiet for t in a.tries]
    assert {t.status for t in quiet_tries} == {ProbeStatus.TIMEOUT}
    assert "unreachable" in quiet_tries[0].detail  # ICMP said nothing listens on port 53
    assert addresses(answer_of(answers, w.name)) == {w.ips[loud]}
    assert elapsed < probe.probe_total_budget(0.5) + 1.0


@pytest.mark.podman
@pytest.mark.rootless
def test_rootless_network_probed_by_root(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootless_host
    net = host.network_create(net_name("rl"))
    a = host.run(host.session.new_name("a"), {net: ["app"]})
    b = host.run(host.session.new_name("b"), {net: ["app"]})
    target = member_target(host, net, a.name, ("app", b.name))
    answers, skipped = probe_networks([target])
    assert skipped == ()
    assert addresses(answer_of(answers, "app")) == {a.ips[net], b.ips[net]}
    assert addresses(answer_of(answers, b.name)) == {b.ips[net]}
    # the SandboxKey is bound in the user's mount namespace: on the host an empty file
    by_key = replace(target, netns_path=a.sandbox_key)
    (skip,) = probe_networks([by_key])[1]
    assert f"{a.sandbox_key}: not a network namespace" in skip.reason


def installed() -> AardvarkVersion:
    return AardvarkVersion(*current_stack().aardvark[:2])


def forwards_unknown_names() -> bool:
    """aardvark 1.4 answers NXDOMAIN for a single-label name it does not know (and no
    records for a known name's missing family); 1.14 passes such questions to the
    upstream resolvers, which the podman 5 lane cannot reach: a timeout or an upstream
    error there, never an answer."""
    return installed() >= AardvarkVersion(1, 14)


def assert_not_known(answer: ProbeAnswer) -> None:
    statuses = {t.status for t in answer.tries}
    assert all(not t.addresses for t in answer.tries), answer
    if forwards_unknown_names():
        assert ProbeStatus.ANSWER not in statuses, answer
    else:
        assert statuses == {ProbeStatus.NXDOMAIN}, answer


def process_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith(("Z", "X"))


@pytest.mark.podman
@pytest.mark.rootless
def test_a_stopped_aardvark_gives_timeout_tries(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """The session user's own aardvark (it serves only this session's networks) is killed."""
    host = rootless_host
    assert host.user is not None
    net = host.network_create(net_name("stop"))
    a = host.run(host.session.new_name("a"), [net])
    pid_file = host.aardvark_dir / "aardvark.pid"
    pid = int(pid_file.read_text())
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "aardvark-dns"
    assert os.stat(f"/proc/{pid}").st_uid == host.user.uid
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: process_gone(pid), timeout=10, what="aardvark-dns to die")
    try:
        target = member_target(host, net, a.name, (a.name,))
        answers, skipped = probe_networks([target], timeout=0.5)
        assert skipped == ()
        assert {t.status for x in answers for t in x.tries} == {ProbeStatus.TIMEOUT}
    finally:
        # netavark starts a new aardvark when the next container joins - unless the pid
        # file names a live process, and a zombie counts as one where nothing reaps it
        if pid_file.read_text().strip() == str(pid):
            pid_file.unlink()
        host.run(host.session.new_name("restart"), [net])
    answers, _ = probe_networks([member_target(host, net, a.name, (a.name,))], rdtypes=("A",))
    assert addresses(answer_of(answers, a.name)) == {a.ips[net]}


AS_USER_SCRIPT = """
import json, sys
from ipaddress import ip_address
from aardcheck.sources.probe import ProbeTarget, probe_networks
from aardcheck.sources.liveness import check_liveness
net, server, netns, uid, iface, alive, dead, *names = sys.argv[1:]
answers, skipped = probe_networks([ProbeTarget(net, ip_address(server), netns, tuple(names),
                                               int(uid))], count=1)
looked = check_liveness(net, iface, [ip_address(alive), ip_address(dead)], rootless_uid=int(uid),
                        timeout=0.6)
print(json.dumps({
    "answers": {a.name + "/" + a.rdtype: [t.status.value, sorted(map(str, t.addresses))]
                for a in answers for t in a.tries},
    "skipped": [s.reason for s in skipped],
    "liveness": [[str(x.address), x.liveness.value, x.detail] for x in looked],
}))
"""


def user_python() -> str | None:
    """An interpreter a rootless user can run (ours may live under /root)."""
    for candidate in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and Path(candidate).exists():
            path = Path(candidate).resolve()
            if all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents]):
                return str(path)
    return None


@pytest.mark.podman
@pytest.mark.rootless
def test_rootless_user_probes_its_own_network(
    rootless_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    """The user itself: agent under ``podman unshare``, SandboxKey seen in its mount ns."""
    python = user_python()
    if python is None:
        pytest.skip("no Python interpreter the rootless user may run")
    host = rootless_host
    code = host.session.scratch_dir("pycode")
    shutil.copytree(Path(probe.__file__).parents[1], code / "aardcheck")
    shutil.copytree(Path(dns.__file__).parent, code / "dns")
    (code / "as_user.py").write_text(AS_USER_SCRIPT)
    for path in [code, *code.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    net = host.network_create(net_name("self"))
    a = host.run(host.session.new_name("a"), {net: ["app"]})
    gone = host.run(host.session.new_name("gone"), [net])
    host.rm(gone.name)
    iface = str(host.network_inspect(net)["network_interface"])
    assert host.user is not None
    proc = host.exec(
        python, str(code / "as_user.py"), net, host.gateway(net), f"/proc/{a.pid}/ns/net",
        str(host.user.uid), iface, a.ips[net], gone.ips[net], "app", gone.name,
        extra_env={"PYTHONPATH": str(code)}, timeout=60,
    )  # fmt: skip
    result = json.loads(proc.stdout)
    assert result["skipped"] == []
    assert result["answers"]["app/A"] == ["answer", [a.ips[net]]]
    status, found = result["answers"][f"{gone.name}/A"]
    assert found == []
    assert status == "nxdomain" if not forwards_unknown_names() else status != "answer"
    assert [row[:2] for row in result["liveness"]] == [
        [a.ips[net], "alive"],
        [gone.ips[net], "silent"],
    ]


@needs_root
def test_a_replaced_member_then_silence_is_one_attempt_not_two(
    resolver: FakeResolver, tmp_path: Path
) -> None:
    """The first member cannot be entered, the next one gets no answer: that is one
    silent attempt - a third (through the last member) decides."""
    resolver.records = {"web": ["10.1.0.2"]}
    resolver.drop_first = 3  # the second round's three questions are lost
    gone = str(tmp_path / "no-such-netns")
    target = replace(
        loopback_target(("web",)),
        netns_path=gone,
        alternates=((OWN_NETNS, ip_address("127.0.0.1")),),
    )
    answers, skipped = probe_networks([target], timeout=0.3, rdtypes=("A",))
    assert skipped == ()
    assert [t.status for t in answers[0].tries] == [ProbeStatus.ANSWER] * 3
