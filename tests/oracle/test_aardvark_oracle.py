"""Our verdicts and parsed addresses against the real, installed aardvark-dns.

Runs against whichever aardvark the machine has - 1.4.0 on the host, 1.14.0 in the
podman 5 lane - with that version's grammar and that version's idea of what a rejection
costs (see ``aardvark_oracle``'s docstring):

* 1.4: a file aardcheck rejects must make the daemon exit 1 with a parse error; a
  directory it accepts must be served.
* 1.14: a file aardcheck rejects must be skipped - the daemon keeps serving the other
  networks, the file's gateway answers nothing and no listener answers its names - and
  what lint calls fatal (two networks on one gateway, a non-UTF-8 name) must make
  ``aardvark-dns run`` itself fail at start.

Every fixture case is copied next to a known-good control network and handed to the
real binary twice: at start and at a SIGHUP reload. Only names from these fixtures are
asked, only of aardvark instances in this run's own network namespace.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from aardcheck.format.lint import Effect
from aardcheck.models import AardvarkVersion, IPAddress, RunDir, Scope
from aardcheck.runner.lint import lint_paths
from aardcheck.sources.aardvark_files import installed_aardvark_version, read_dns_directory
from tests.oracle.aardvark_oracle import Daemon, Netns, ask, running, silent, unavailable_reason
from tests.oracle.cases import MEASURED, Case, load_cases
from tests.oracle.served import Served, every_gateway, served
from tests.realpodman import in_ci, wait_until

pytestmark = pytest.mark.podman

CASES = load_cases()
CONTROL = ("oracle-control", IPv4Address("10.254.0.1"), "10.254.0.2")
RELOADED = ("oracle-reloaded", IPv4Address("10.254.1.1"), "10.254.1.2")
PARSE_ERROR = "unable to parse config"  # 1.4: the daemon's last words (its stdout)
START_ERROR = "Error starting server"  # 1.14: on the stderr of `aardvark-dns run`


def _network_file(name: str, gateway: IPv4Address, address: str) -> bytes:
    return f"{gateway}\n{secrets.token_hex(32)} {address}  {name}\n".encode()


@pytest.fixture(scope="module")
def version() -> AardvarkVersion:
    """The installed aardvark-dns; the oracle knows how the measured generations behave."""
    reason = unavailable_reason()
    installed = installed_aardvark_version()
    known = [
        v
        for v in MEASURED
        if installed and (v.major, v.minor) == (installed.major, installed.minor)
    ]
    if reason is None and not known:
        measured = ", ".join(str(v) for v in MEASURED)
        reason = f"the oracle knows aardvark-dns {measured}, found {installed}"
    if reason:
        if in_ci():
            pytest.fail(f"the aardvark oracle must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    assert installed is not None
    return installed


@pytest.fixture(scope="module")
def netns(version: AardvarkVersion) -> Iterator[Netns]:
    namespace = Netns.create(f"acx{secrets.token_hex(4)}")
    try:
        namespace.add_address(CONTROL[1])
        namespace.add_address(RELOADED[1])
        yield namespace
    finally:
        problems = namespace.destroy()
        assert not problems, problems


def _stage(case: Case, run_root: Path) -> RunDir:
    run_dir = RunDir(run_root, Scope.ROOTFUL, 0)
    shutil.copytree(case.dns_dir, run_dir.dns_dir, symlinks=True)
    return run_dir


def _add_gateways(netns: Netns, dns_dir: Path) -> None:
    for gateway in every_gateway(dns_dir):
        netns.add_address(gateway)


def _fatal(run_dir: RunDir, version: AardvarkVersion, at_start: bool = True) -> list[str]:
    """What aardcheck's lint says stops every network (at start, or at a reload)."""
    fatal = {Effect.ALL_DOWN, Effect.START_FAILS} if at_start else {Effect.ALL_DOWN}
    results = lint_paths([run_dir.dns_dir], version)
    return [f"{r.path.name}: {r.reason}" for r in results if r.effect in fatal]


def _assert_failure_reported(daemon: Daemon, version: AardvarkVersion, at_start: bool) -> None:
    if version.start_checks_listeners and at_start:
        assert daemon.started["rc"] == 1, daemon.started
        assert START_ERROR in daemon.started["stderr"], daemon.started
    else:
        exit_event = daemon.exited(timeout=2.0)
        assert exit_event is not None and exit_event["status"] == 1, exit_event
        assert PARSE_ERROR in exit_event["output"], exit_event


def _assert_serves(netns: Netns, model: Served, version: AardvarkVersion) -> None:
    """Every listener answers as the model says; every skipped gateway answers nothing."""
    for gateway, networks in model.candidates.items():
        # aardvark < 1.12 binds its listeners after `run` returned: on a busy machine
        # that can take a while, so an answer is waited for (bounded) before it is judged
        answering = wait_until(
            lambda g=gateway: not silent(netns, g, CONTROL[0], timeout=1.0),  # type: ignore[misc]
            timeout=8.0,
            what=f"an answer at {gateway}",
        )
        assert answering, f"nothing answers at {gateway}"
        got = {q: ask(netns, gateway, *q).addresses for q in sorted(model.questions)}
        assert any(got == model.answers(gateway, n) for n in networks), (gateway, got, networks)
        for question, addresses in got.items():
            if addresses:
                answer = ask(netns, gateway, *question)
                assert answer.ttls == {version.answer_ttl}, (gateway, question, answer)
    for gateway, name in model.silent.items():
        assert silent(netns, gateway, name or CONTROL[0]), f"{gateway} answers a skipped file"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_at_start(
    case: Case, version: AardvarkVersion, netns: Netns, tmp_path: Path
) -> None:
    run_dir = _stage(case, tmp_path)
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    _add_gateways(netns, run_dir.dns_dir)
    fatal = _fatal(run_dir, version)
    model = served(run_dir.dns_dir, version)
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        assert daemon.pid is not None
        accepted = daemon.wait_for(CONTROL[1], CONTROL[0])
        assert accepted == (not fatal), (
            f"aardvark served={accepted} {daemon.started}; ours: {fatal}"
        )
        if accepted:
            _assert_serves(netns, model, version)
        else:
            _assert_failure_reported(daemon, version, at_start=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_at_reload(
    case: Case, version: AardvarkVersion, netns: Netns, tmp_path: Path
) -> None:
    """A running daemon meets the case's files at SIGHUP, as after a container start."""
    staged = _stage(case, tmp_path / "staged")
    live = RunDir(tmp_path / "live", Scope.ROOTFUL, 0)
    live.dns_dir.mkdir(parents=True)
    (live.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    _add_gateways(netns, staged.dns_dir)
    with running(netns, live.dns_dir, tmp_path / "capture") as daemon:
        assert daemon.wait_for(CONTROL[1], CONTROL[0]), daemon.exited()
        for entry in staged.dns_dir.iterdir():
            os.rename(entry, live.dns_dir / entry.name)
        (live.dns_dir / RELOADED[0]).write_bytes(_network_file(*RELOADED))
        fatal = _fatal(live, version, at_start=False)
        model = served(live.dns_dir, version)
        daemon.sighup()
        accepted = daemon.wait_for(RELOADED[1], RELOADED[0])
        assert accepted == (not fatal), f"aardvark reloaded={accepted}; ours: {fatal}"
        if accepted:
            _assert_serves(netns, model, version)
        else:
            _assert_failure_reported(daemon, version, at_start=False)


ADDRESS_FORMS = [
    # (IPv4 column, IPv6 column): each file holds exactly one odd form
    ("0.0.0.0", ""),
    ("255.255.255.255", ""),
    ("256.0.0.1", ""),
    ("10.89.0", ""),
    ("10.89.0.2.5", ""),
    ("010.89.0.2", ""),
    ("10.89.0.0x2", ""),
    ("+10.89.0.2", ""),
    ("10.89.0.\u0662", ""),
    ("", "::"),
    ("", "fd8a::"),
    ("", "1:2:3:4:5:6:7:8"),
    ("", "1:2:3:4:5:6:7:8:9"),
    ("", "1:2:3:4:5:6:7::"),
    ("", "::2:3:4:5:6:7:8"),
    ("", "1::2::3"),
    ("", "fd8a::00002"),
    ("", "fd8a::0002"),
    ("", "::ffff:10.89.0.2"),
    ("", "::10.89.0.2"),
    ("", "1:2:3:4:5:6:10.89.0.2"),
    ("", "1:2:3:4:5:6:7:10.89.0.2"),
    ("", "::ffff:010.89.0.2"),
    ("", "fe80::2%1"),
    ("", ":fd8a::2"),
    ("", "fd8a:::2"),
    ("", "FD8A::A"),
    ("", "fd8g::2"),
]


@pytest.mark.parametrize(("v4", "v6"), ADDRESS_FORMS, ids=lambda s: s or "-")
def test_address_forms(
    v4: str, v6: str, version: AardvarkVersion, netns: Netns, tmp_path: Path
) -> None:
    """inet_pton (ours) and Rust's parser (aardvark's) agree on odd address forms."""
    run_dir = RunDir(tmp_path, Scope.ROOTFUL, 0)
    run_dir.dns_dir.mkdir()
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    line = f"10.89.0.1\n{secrets.token_hex(32)} {v4} {v6} odd\n"
    (run_dir.dns_dir / "odd").write_bytes(line.encode())
    netns.add_address(IPv4Address("10.89.0.1"))
    fatal = _fatal(run_dir, version)
    model = served(run_dir.dns_dir, version)
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        accepted = daemon.wait_for(CONTROL[1], CONTROL[0])
        assert accepted == (not fatal), f"aardvark served={accepted}; ours: {fatal}"
        if accepted:
            _assert_serves(netns, model, version)
        else:
            _assert_failure_reported(daemon, version, at_start=True)


def _non_utf8_network(dns_dir: Path) -> None:
    good = _network_file("odd-name", IPv4Address("10.89.0.1"), "10.89.0.2")
    with open(os.path.join(os.fsencode(dns_dir), b"caf\xe9"), "wb") as fh:
        fh.write(good)


def test_non_utf8_file_name_stops_aardvark(
    version: AardvarkVersion, netns: Netns, tmp_path: Path
) -> None:
    run_dir = RunDir(tmp_path, Scope.ROOTFUL, 0)
    run_dir.dns_dir.mkdir()
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    _non_utf8_network(run_dir.dns_dir)
    netns.add_address(IPv4Address("10.89.0.1"))
    (entry,) = read_dns_directory(run_dir, version).unreadable
    assert entry.breaks_aardvark
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        assert not daemon.wait_for(CONTROL[1], CONTROL[0])
        exit_event = daemon.exited(timeout=2.0)
        assert exit_event is not None and exit_event["status"] == 1
        said = daemon.started["stderr"] if version.start_checks_listeners else exit_event["output"]
        assert "non-UTF8" in said, (daemon.started, exit_event)


def test_non_utf8_file_name_at_reload(
    version: AardvarkVersion, netns: Netns, tmp_path: Path
) -> None:
    """1.4 exits; 1.12+ keeps its previous configuration whole (a new network stays unserved)."""
    dns_dir = tmp_path / "aardvark-dns"
    dns_dir.mkdir()
    (dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    netns.add_address(IPv4Address("10.89.0.1"))
    with running(netns, dns_dir, tmp_path / "capture") as daemon:
        assert daemon.wait_for(CONTROL[1], CONTROL[0])
        _non_utf8_network(dns_dir)
        (dns_dir / RELOADED[0]).write_bytes(_network_file(*RELOADED))
        daemon.sighup()
        if not version.start_checks_listeners:
            assert not daemon.wait_for(RELOADED[1], RELOADED[0])
            return
        assert silent(netns, RELOADED[1], RELOADED[0], timeout=2.0)
        assert daemon.exited() is None
        assert ask(netns, CONTROL[1], CONTROL[0], "A").addresses == {IPv4Address(CONTROL[2])}


def test_empty_directory_exits_zero_and_removes_pid(
    version: AardvarkVersion, netns: Netns, tmp_path: Path
) -> None:
    dns_dir = tmp_path / "aardvark-dns"
    dns_dir.mkdir()
    with running(netns, dns_dir, tmp_path / "capture") as daemon:
        exit_event = daemon.exited(timeout=5.0)
        assert exit_event is not None and exit_event["status"] == 0
        # 1.12+ exits before "ready", so `run` reports it as a failed start
        assert daemon.started["rc"] == (1 if version.start_checks_listeners else 0)
    assert not (dns_dir / "aardvark.pid").exists()


def test_listener_fallback_case(version: AardvarkVersion, netns: Netns, tmp_path: Path) -> None:
    """Names are lower-cased on load; the question of a non-container source only from 1.13."""
    case = next(c for c in CASES if c.name == "uppercase-id-and-names")
    run_dir = _stage(case, tmp_path)
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    netns.add_address(IPv4Address("10.89.0.1"))
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        assert daemon.wait_for(CONTROL[1], CONTROL[0])
        server = IPv4Address("10.89.0.1")
        web: set[IPAddress] = {IPv4Address("10.89.0.2")}
        assert ask(netns, server, "frontend", "A").addresses == web
        mixed = ask(netns, server, "FrontEnd", "A")
        if version >= AardvarkVersion(1, 13):
            assert mixed.addresses == web
        else:
            assert mixed.rcode == "NXDOMAIN"
        assert ask(netns, server, "frontend", "AAAA").addresses == set[IPv6Address]()
