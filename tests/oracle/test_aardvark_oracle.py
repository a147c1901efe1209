"""Our accept/reject verdicts and parsed addresses against the real aardvark-dns 1.4.

Every fixture case is copied next to a known-good control network and handed to the real
binary twice: at start and at a SIGHUP reload. Only names from these fixtures are asked,
only of aardvark instances in this run's own network namespace.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from aardcheck.aardvark_format import parse_network_file
from aardcheck.models import DnsDirectory, IPAddress, NetworkFile, RunDir, Scope
from aardcheck.sources.aardvark_files import installed_aardvark_version, read_dns_directory
from tests.oracle.aardvark_oracle import Daemon, Netns, ask, running, unavailable_reason
from tests.oracle.cases import INSTALLED, Case, load_cases
from tests.realpodman import in_ci

pytestmark = pytest.mark.podman

CASES = load_cases()
CONTROL = ("oracle-control", IPv4Address("10.254.0.1"), "10.254.0.2")
RELOADED = ("oracle-reloaded", IPv4Address("10.254.1.1"), "10.254.1.2")
PARSE_ERROR = "unable to parse config"
_LABEL = re.compile(r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?")


def _network_file(name: str, gateway: IPv4Address, address: str) -> bytes:
    return f"{gateway}\n{secrets.token_hex(32)} {address}  {name}\n".encode()


@pytest.fixture(scope="module")
def netns() -> Iterator[Netns]:
    reason = unavailable_reason()
    installed = installed_aardvark_version()
    if reason is None and (installed is None or installed.minor != INSTALLED.minor):
        reason = f"these verdicts are for aardvark-dns {INSTALLED}, found {installed}"
    if reason:
        if in_ci():
            pytest.fail(f"the aardvark oracle must run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    namespace = Netns.create(f"acx{secrets.token_hex(4)}")
    try:
        namespace.add_address(CONTROL[1])
        namespace.add_address(RELOADED[1])
        yield namespace
    finally:
        problems = namespace.destroy()
        assert not problems, problems


def _gateways(dns_dir: Path) -> set[IPAddress]:
    """Header addresses of every regular file aardvark will read (so it can bind them)."""
    found: set[IPAddress] = set()
    for name in os.listdir(dns_dir):
        path = dns_dir / name
        if path.is_file():
            parsed = parse_network_file(path, path.read_bytes(), INSTALLED)
            found.update(parsed.header.gateways if parsed.header else ())
    return found


def _stage(case: Case, run_root: Path) -> RunDir:
    run_dir = RunDir(run_root, Scope.ROOTFUL, 0)
    shutil.copytree(case.dns_dir, run_dir.dns_dir, symlinks=True)
    return run_dir


def _our_verdict(directory: DnsDirectory) -> tuple[bool, list[str]]:
    reasons = [f"{f.path.name}: {f.defect.reason}" for f in directory.files if f.defect]
    reasons += [f"{u.path.name}: {u.reason}" for u in directory.unreadable if u.breaks_aardvark]
    return not reasons, reasons


def _expected_answers(parsed: NetworkFile) -> dict[tuple[str, str], set[IPAddress]]:
    """Every plain-label name of the file, with the addresses aardvark must answer."""
    answers: dict[tuple[str, str], set[IPAddress]] = {}
    for entry in parsed.entries:
        for name in entry.names:
            if not _LABEL.fullmatch(name):
                continue
            answers.setdefault((name, "A"), set()).update(entry.ipv4)
            answers.setdefault((name, "AAAA"), set()).update(entry.ipv6)
    return answers


def _server(parsed: NetworkFile) -> IPAddress | None:
    """The address to ask: the first IPv4 gateway, else the first one."""
    gateways = sorted(parsed.header.gateways if parsed.header else (), key=lambda g: g.version)
    return gateways[0] if gateways else None


def _check_answers(netns: Netns, directory: DnsDirectory) -> None:
    for parsed in directory.files:
        server = _server(parsed)
        if server is None or parsed.network == CONTROL[0]:
            continue
        for (name, rdtype), addresses in _expected_answers(parsed).items():
            answer = ask(netns, server, name, rdtype)
            assert answer.addresses == addresses, (parsed.path.name, name, rdtype, answer)
            if addresses:
                assert answer.ttls == {INSTALLED.answer_ttl}


def _assert_same_verdict(daemon: Daemon, accepted: bool, ours: bool, why: list[str]) -> None:
    exit_event = daemon.exited(timeout=2.0) if not accepted else None
    output = exit_event["output"] if exit_event else ""
    assert accepted == ours, f"aardvark accepted={accepted} ({output.strip()}); ours: {why}"
    if not accepted:
        assert exit_event is not None and exit_event["status"] == 1, exit_event
        assert PARSE_ERROR in output, output


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_at_start(case: Case, netns: Netns, tmp_path: Path) -> None:
    run_dir = _stage(case, tmp_path)
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    for gateway in _gateways(run_dir.dns_dir):
        netns.add_address(gateway)
    directory = read_dns_directory(run_dir, INSTALLED)
    ours, why = _our_verdict(directory)
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        assert daemon.pid is not None
        accepted = daemon.wait_for(CONTROL[1], CONTROL[0])
        _assert_same_verdict(daemon, accepted, ours, why)
        if accepted:
            _check_answers(netns, directory)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_verdict_at_reload(case: Case, netns: Netns, tmp_path: Path) -> None:
    """A running daemon meets the case's files at SIGHUP, as after a container start."""
    staged = _stage(case, tmp_path / "staged")
    live = RunDir(tmp_path / "live", Scope.ROOTFUL, 0)
    live.dns_dir.mkdir(parents=True)
    (live.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    for gateway in _gateways(staged.dns_dir):
        netns.add_address(gateway)
    with running(netns, live.dns_dir, tmp_path / "capture") as daemon:
        assert daemon.wait_for(CONTROL[1], CONTROL[0]), daemon.exited()
        for entry in staged.dns_dir.iterdir():
            os.rename(entry, live.dns_dir / entry.name)
        (live.dns_dir / RELOADED[0]).write_bytes(_network_file(*RELOADED))
        ours, why = _our_verdict(read_dns_directory(live, INSTALLED))
        daemon.sighup()
        accepted = daemon.wait_for(RELOADED[1], RELOADED[0])
        _assert_same_verdict(daemon, accepted, ours, why)


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
def test_address_forms(v4: str, v6: str, netns: Netns, tmp_path: Path) -> None:
    """inet_pton (ours) and Rust's parser (aardvark's) agree on odd address forms."""
    run_dir = RunDir(tmp_path, Scope.ROOTFUL, 0)
    run_dir.dns_dir.mkdir()
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    line = f"10.89.0.1\n{secrets.token_hex(32)} {v4} {v6} odd\n"
    (run_dir.dns_dir / "odd").write_bytes(line.encode())
    netns.add_address(IPv4Address("10.89.0.1"))
    ours, why = _our_verdict(read_dns_directory(run_dir, INSTALLED))
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        accepted = daemon.wait_for(CONTROL[1], CONTROL[0])
        _assert_same_verdict(daemon, accepted, ours, why)


def test_non_utf8_file_name_stops_aardvark(netns: Netns, tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path, Scope.ROOTFUL, 0)
    run_dir.dns_dir.mkdir()
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    good = _network_file("odd-name", IPv4Address("10.89.0.1"), "10.89.0.2")
    with open(os.path.join(os.fsencode(run_dir.dns_dir), b"caf\xe9"), "wb") as fh:
        fh.write(good)
    netns.add_address(IPv4Address("10.89.0.1"))
    (entry,) = read_dns_directory(run_dir, INSTALLED).unreadable
    assert entry.breaks_aardvark
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        assert not daemon.wait_for(CONTROL[1], CONTROL[0])
        exit_event = daemon.exited(timeout=2.0)
        assert exit_event is not None and "non-UTF8" in exit_event["output"]


def test_empty_directory_exits_zero_and_removes_pid(netns: Netns, tmp_path: Path) -> None:
    dns_dir = tmp_path / "aardvark-dns"
    dns_dir.mkdir()
    with running(netns, dns_dir, tmp_path / "capture") as daemon:
        exit_event = daemon.exited(timeout=5.0)
        assert exit_event is not None and exit_event["status"] == 0
    assert not (dns_dir / "aardvark.pid").exists()


def test_listener_fallback_matches_names_case_sensitively(netns: Netns, tmp_path: Path) -> None:
    """1.4 lower-cases names on load but not the question of a non-container source."""
    case = next(c for c in CASES if c.name == "uppercase-id-and-names")
    run_dir = _stage(case, tmp_path)
    (run_dir.dns_dir / CONTROL[0]).write_bytes(_network_file(*CONTROL))
    netns.add_address(IPv4Address("10.89.0.1"))
    with running(netns, run_dir.dns_dir, tmp_path / "capture") as daemon:
        assert daemon.wait_for(CONTROL[1], CONTROL[0])
        server = IPv4Address("10.89.0.1")
        assert ask(netns, server, "frontend", "A").addresses == {IPv4Address("10.89.0.2")}
        assert ask(netns, server, "FrontEnd", "A").rcode == "NXDOMAIN"
        assert ask(netns, server, "frontend", "AAAA").addresses == set[IPv6Address]()
