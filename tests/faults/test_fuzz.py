"""Fuzz: generated aardvark files (valid and broken) and podman states (hypothesis).

For every generated host: no exception escapes the analysis, the plan or the reports;
every finding names only containers, networks, addresses and files that are in the input;
no plan prunes the line of a container podman says is running; a prune removes exactly
that container's lines and keeps every other byte. Thousands of cases (set
``AARDCHECK_FUZZ_EXAMPLES`` to change how many).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aardcheck.checks.analysis import analyse
from aardcheck.findings import CheckContext, CheckResult, Finding
from aardcheck.format.edit import remove_entries
from aardcheck.format.parse import parse_network_file
from aardcheck.models import (
    AardvarkVersion,
    AddressLiveness,
    DnsDirectory,
    Liveness,
    PodmanState,
    ProbeAnswer,
    ProbeSkipped,
    ProbeStatus,
    ProbeTry,
    RunDir,
    Scope,
    Snapshot,
    UnreadableEntry,
)
from aardcheck.repair.apply import kept_line
from aardcheck.repair.outcome import FixResult
from aardcheck.repair.plan import (
    DeleteFile,
    PruneLines,
    RecreateNetwork,
    ReloadContainer,
    RepairPlan,
    RestartConsumer,
    Strategy,
    build_plan,
)
from aardcheck.report import fix_report, json_report, text_report
from aardcheck.sources.aardvark_files import read_dns_directory
from aardcheck.sources.podman_json import (
    containers_from_compat,
    details_from_libpod,
    networks_from_libpod,
)

EXAMPLES = int(os.environ.get("AARDCHECK_FUZZ_EXAMPLES", "2500"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

RUN_DIR = RunDir(Path("/fuzz/networks"), Scope.ROOTFUL, 0)
IDS = [f"{i:x}" * 64 for i in range(10, 16)]  # "aaaa...", "bbbb...": a-f, so case matters
NETWORKS = {
    "n0": ("10.50.0.0/24", "10.50.0.1"),
    "n1": ("10.50.1.0/24", "10.50.1.1"),
    "n2": ("10.50.0.0/24", "10.50.0.1"),  # reuses n0's subnet (an orphan's poison)
    "n3": ("fd00:50::/64", "fd00:50::1"),
}
FILE_NAMES = [*NETWORKS, "gone", "n1%int", ".tmp"]
ADDRESSES = [
    "10.50.0.1", "10.50.0.2", "10.50.0.3", "10.50.1.1", "10.50.1.2", "10.50.1.9",
    "fd00:50::1", "fd00:50::2", "fd00:50::3", "192.0.2.1",
]  # fmt: skip
JUNK = ["", " ", ",", "010.50.0.2", "10.50.0.2%eth0", "[fd00::1]", "::ffff:10.50.0.2", "x", "\t"]
VERSIONS = [AardvarkVersion(*v) for v in ((1, 0), (1, 2), (1, 3), (1, 4), (1, 12), (1, 14))]
NAME_CHARS = st.characters(codec="utf-8", exclude_characters="\n ,") | st.sampled_from(
    ["\x00", "\r", "\t", "$", "'", '"', "`", "\x1b", "A"]
)
NAMES = ["", "app", "web", "App", "a\x00b", "$(x)", "it's", '"q"', "\x1b[1m", "é", "\u212a", "x\r"]
names = st.sampled_from(NAMES) | st.sampled_from(NAMES) | st.text(NAME_CHARS, max_size=4)
addresses = st.sampled_from(ADDRESSES)
address_field = st.lists(st.sampled_from(ADDRESSES + JUNK), max_size=3).map(",".join)


# --------------------------------------------------------------------------- files


#: Column values, valid and broken, drawn whole (one choice each keeps generation cheap).
V4_COLUMNS = ["", "10.50.0.2", "10.50.0.3", "10.50.1.2", "10.50.0.2,10.50.1.2", "10.50.1.9"]
V4_COLUMNS += ["010.50.0.2", "10.50.0.2,", "fd00:50::2", "10.50.0.2%eth0", "x", "\t"]
V6_COLUMNS = ["", "", "fd00:50::2", "fd00:50::3", "fd00:50::2,fd00:50::3", "10.50.0.2"]
V6_COLUMNS += ["[fd00::1]", "::ffff:10.50.0.2", ","]
NAME_FIELDS = ["app", "web,app", "", ",", "a\x00b,$(x)", "App,é", "x\r", "\x1b[1m,it's", "\u212a"]
TAILS = ["", "", "", " 10.50.0.1", " ", " junk", " 1.1.1.1 extra"]
ID_FIELDS = [*IDS, *(i.upper() for i in IDS[:2]), "", "\u212a", "short"]


@st.composite
def container_line(draw: st.DrawFn) -> bytes:
    fields = [
        draw(st.sampled_from(ID_FIELDS)),
        draw(st.sampled_from(V4_COLUMNS)),
        draw(st.sampled_from(V6_COLUMNS)),
        draw(st.sampled_from(NAME_FIELDS) | names),
    ]
    line = " ".join(fields) + draw(st.sampled_from(TAILS))
    if draw(st.integers(0, 9)) == 0:
        line = " ".join(fields[: draw(st.integers(1, 3))])  # too few fields
    return line.encode()


HEADERS = ["10.50.0.1", "10.50.0.1", "10.50.1.1", "fd00:50::1", "10.50.0.1,fd00:50::1", ""]
HEADERS += ["10.50.0.1 ", "10.50.0.1 9.9.9.9", "10.50.0.1 9.9.9.9,", "10.50.0.1,", "x", "#"]


@st.composite
def network_file(draw: st.DrawFn) -> bytes:
    lines = [draw(st.sampled_from(HEADERS)).encode()]
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 12))
        if kind == 0:
            lines.append(draw(st.binary(max_size=24)))
        elif kind == 1:
            lines.append(b"")
        else:
            lines.append(draw(container_line()))
    eol = draw(st.sampled_from([b"\n", b"\n", b"\n", b"\r\n"]))
    content = eol.join(lines) + draw(st.sampled_from([eol, b""]))
    if draw(st.integers(0, 15)) == 0:
        content = b"\xef\xbb\xbf" + content
    return content


# --------------------------------------------------------------------------- podman JSON


@st.composite
def podman_json(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    nets = draw(st.lists(st.sampled_from(list(NETWORKS)), unique=True))
    networks = []
    for net in nets:
        subnet, gateway = NETWORKS[net]
        networks.append(
            {
                "name": net,
                "id": net * 16,
                "driver": draw(st.sampled_from(["bridge", "bridge", "macvlan"])),
                "network_interface": draw(st.sampled_from(["", "podman9"])),
                "subnets": [
                    {"subnet": subnet, "gateway": draw(st.sampled_from([gateway, "", None]))}
                ],
                "ipv6_enabled": ":" in subnet,
                "internal": draw(st.booleans()),
                "dns_enabled": draw(st.booleans()) or draw(st.booleans()),
            }
        )
    compat, libpod = [], []
    for number, cid in enumerate(draw(st.lists(st.sampled_from(IDS), unique=True, max_size=4))):
        attached = draw(st.lists(st.sampled_from(list(NETWORKS)), unique=True, max_size=2))
        settings_by_net = {
            net: {
                "IPAddress": draw(st.sampled_from([*ADDRESSES[:6], "", "junk"])),
                "GlobalIPv6Address": draw(st.sampled_from([*ADDRESSES[6:], ""])),
                "Aliases": draw(st.none() | st.lists(names, max_size=3)),
                "MacAddress": "aa:bb:cc:dd:ee:ff",
            }
            for net in attached
        }
        name = f"c{number}{draw(names)}"  # podman's names are unique and never empty
        compat.append(
            {
                "Id": draw(st.sampled_from([cid, cid.upper()])),
                "Names": [f"/{name}"],
                "State": draw(st.sampled_from(["running", "exited", "created", "paused", ""])),
                "NetworkSettings": {"Networks": settings_by_net},
            }
        )
        libpod.append(
            {
                "Id": cid,
                "Pid": draw(st.sampled_from([0, 4242])),
                "Pod": draw(st.sampled_from(["", "", "pod1"])),
                "IsInfra": draw(st.booleans()),
            }
        )
    return {"networks": networks, "compat": compat, "libpod": libpod}


# --------------------------------------------------------------------------- snapshot


LIVENESS = [
    (n, a, seen) for n in NETWORKS for a in ADDRESSES[:3] + ADDRESSES[6:8] for seen in Liveness
]
QUESTIONS = [
    (n, t, s) for n in NETWORKS for t in ("A", "AAAA") for s in ("10.50.0.1", "fd00:50::1")
]
TRIES = [
    ProbeTry(status, frozenset(map(ip_address, answer)), ttl)
    for status in ProbeStatus
    for answer in ((), ("10.50.0.2",), ("10.50.0.2", "10.50.0.3"), ("192.0.2.1",), ("fd00:50::2",))
    for ttl in (None, 86400)
]


@dataclass(frozen=True)
class Host:
    snapshot: Snapshot
    contents: dict[str, bytes]


@st.composite
def hosts(draw: st.DrawFn) -> Host:
    version = draw(st.sampled_from(VERSIONS))
    contents = {
        name: draw(network_file())
        for name in draw(st.lists(st.sampled_from(FILE_NAMES), unique=True, max_size=4))
    }
    files = tuple(
        parse_network_file(RUN_DIR.dns_dir / name, content, version)
        for name, content in sorted(contents.items())
    )
    unreadable = tuple(
        UnreadableEntry(RUN_DIR.dns_dir / name, "could not be read", draw(st.booleans()))
        for name in draw(st.lists(st.sampled_from(["odd", "n1"]), unique=True, max_size=1))
    )
    raw = draw(podman_json())
    podman = PodmanState(
        containers=containers_from_compat(raw["compat"], details_from_libpod(raw["libpod"])),
        networks=networks_from_libpod(raw["networks"]),
    )
    nets = sorted({f.network for f in files} | {n.name for n in podman.networks})
    liveness = tuple(
        AddressLiveness(net, ip_address(addr), seen)
        for net, addr, seen in draw(st.lists(st.sampled_from(LIVENESS), max_size=4))
    )
    probes = tuple(
        ProbeAnswer(net, name, rdtype, ip_address(server), tries)
        for net, rdtype, server in draw(st.lists(st.sampled_from(QUESTIONS), max_size=4))
        for name in [draw(names)]
        for tries in [tuple(draw(st.lists(st.sampled_from(TRIES), min_size=1, max_size=3)))]
    )
    skipped = tuple(
        ProbeSkipped(net, "no member")
        for net in draw(st.lists(st.sampled_from(nets or ["n0"]), unique=True, max_size=1))
    )
    snapshot = Snapshot(
        directory=DnsDirectory(RUN_DIR, True, files, unreadable, None),
        podman=podman,
        aardvark_version=version,
        selected=frozenset(
            draw(st.lists(st.sampled_from(nets or ["n0"]), unique=True, max_size=1))
        ),
        liveness=liveness,
        probes=probes,
        probe_skipped=skipped,
        probed=bool(probes or skipped),
    )
    return Host(snapshot, contents)


# --------------------------------------------------------------------------- the oracle


def _known_addresses(snap: Snapshot) -> set[str]:
    found: set[str] = set()
    for f in snap.directory.files:
        found |= {str(a) for e in f.entries for a in e.addresses}
        found |= {str(a) for a in (f.header.gateways if f.header else ())}
    for c in snap.podman.containers:
        found |= {str(a) for att in c.attachments for a in att.addresses}
    for n in snap.podman.networks:
        found |= {str(s.gateway) for s in n.subnets if s.gateway is not None}
    for p in snap.probes:
        found.add(str(p.server))
        found |= {str(a) for t in p.tries for a in t.addresses}
    return found


def _assert_grounded(snap: Snapshot, findings: Sequence[Finding]) -> None:
    ids = {e.container_id for f in snap.directory.files for e in f.entries}
    ids |= {c.id for c in snap.podman.containers}
    networks = {f.network for f in snap.directory.files}
    networks |= {n.name for n in snap.podman.networks}
    networks |= {u.path.name for u in snap.directory.unreadable}
    networks |= {p.network for p in snap.probes} | {s.network for s in snap.probe_skipped}
    paths = {str(f.path) for f in snap.directory.files}
    paths |= {str(u.path) for u in snap.directory.unreadable}
    known = _known_addresses(snap)
    for f in findings:
        assert f.container_id in ids | {""}, f
        assert f.network in networks, f
        assert f.path in paths | {""}, f
        for part in filter(None, f.address.split(",")):
            assert str(ip_address(part)) in known, f
        assert f.message, f
    assert len({f.identity for f in findings}) == len(findings)


def _assert_safe_plan(host: Host, findings: tuple[Finding, ...], strategy: Strategy) -> None:
    snap = host.snapshot
    running = {c.id for c in snap.podman.containers if c.running}
    networks = {n.name for n in snap.podman.networks}
    paths = {str(f.path): f for f in snap.directory.files}
    plan = build_plan(
        snap, findings, strategy=strategy, recreate=snap.selected, restart_consumers=True
    )
    for action in plan.actions:
        match action:
            case PruneLines():
                assert action.container_id not in running, action
                if action.container_id.lower() in running:  # old grammar: ids keep case
                    assert kept_line(action, snap.podman.containers), action  # apply refuses
                assert action.path in paths, action
                _assert_exact_prune(host.contents[Path(action.path).name], action.container_id)
            case DeleteFile():
                assert action.network not in networks and action.path in paths, action
            case ReloadContainer() | RestartConsumer():
                assert action.container_id in running, action
            case RecreateNetwork():
                assert action.network in networks, action
    fix_report.plan_text(plan)
    doc = fix_report.render_json(FixResult(_result(snap, findings), plan), dry_run=True)
    assert json.loads(doc)["plan"]["actions"] is not None


def _lines(content: bytes) -> list[bytes]:
    """Lines cut at LF only, each keeping it (aardvark's own rule)."""
    parts = content.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _assert_exact_prune(content: bytes, container_id: str) -> None:
    after = remove_entries(content, {container_id})
    if not container_id:  # a line of spaces: four empty fields, no id to match by
        assert after == content
        return
    kept, lines = _lines(after), _lines(content)
    header = next((i for i, line in enumerate(lines) if line != b"\n"), None)
    wanted = container_id.lower()

    def first_field(line: bytes) -> str:  # as aardvark reads an id: lower-cased text
        return line.rstrip(b"\n").split(b" ", 1)[0].decode("utf-8", "surrogateescape").lower()

    removed = [line for i, line in enumerate(lines) if i != header and first_field(line) == wanted]
    assert removed, "a prune was planned for a line that is not there"
    it = iter(lines)
    assert all(any(k == line for line in it) for k in kept)  # the rest, in order
    assert len(kept) == len(lines) - len(removed)


def _result(snap: Snapshot, findings: tuple[Finding, ...]) -> CheckResult:
    return CheckResult(snap, findings, CheckContext(str(RUN_DIR.path), "rootful"))


@FUZZ
@given(hosts(), st.sampled_from(list(Strategy)))
def test_generated_hosts(host: Host, strategy: Strategy) -> None:
    findings = analyse(host.snapshot)
    _assert_grounded(host.snapshot, findings)
    result = _result(host.snapshot, findings)
    text = text_report.render(result, 1 if findings else 0)
    assert all(line.isprintable() for line in text.splitlines()), text
    json.loads(json_report.render(result, 1 if findings else 0))
    _assert_safe_plan(host, findings, strategy)


# --------------------------------------------------------------------------- directory

ENTRY_NAMES = [b"n0", b"n1%int", b".tmp", b"caf\xe9", b"a b", b"x\ny", b"aardvark.pid", b"-rf"]
ENTRY_KINDS = ["file", "file", "file", "symlink", "dangling", "dir", "fifo", "empty"]


@settings(max_examples=max(EXAMPLES // 10, 50), deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(ENTRY_NAMES), st.sampled_from(ENTRY_KINDS), network_file()),
        max_size=5,
        unique_by=lambda entry: entry[0],
    ),
    st.sampled_from(VERSIONS),
)
def test_generated_directories(entries: list[tuple[bytes, str, bytes]], version: Any) -> None:
    """Real directories of odd entries: every entry accounted for, none followed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="aardfuzz-") as tmp:
        run_dir = RunDir(Path(tmp), Scope.ROOTFUL, 0)
        dns = os.fsencode(run_dir.dns_dir)
        os.mkdir(dns)
        secret = os.path.join(os.fsencode(tmp), b"secret")
        with open(secret, "wb") as fh:
            fh.write(b"10.50.0.1\n" + IDS[0].encode() + b" 10.50.0.2  secret\n")
        for name, kind, content in entries:
            path = os.path.join(dns, name)
            if kind == "file":
                with open(path, "wb") as fh:
                    fh.write(content)
            elif kind == "empty":
                open(path, "wb").close()
            elif kind == "symlink":
                os.symlink(secret, path)
            elif kind == "dangling":
                os.symlink(b"/nonexistent/aardfuzz", path)
            elif kind == "dir":
                os.mkdir(path)
            else:
                os.mkfifo(path)
        directory = read_dns_directory(run_dir, version)
    seen = [os.fsencode(f.path.name) for f in directory.files]
    seen += [os.fsencode(u.path.name) for u in directory.unreadable]
    expected = sorted(n for n, _, _ in entries if n != b"aardvark.pid")
    assert sorted(n for n in seen if n != b"aardvark.pid") == expected
    assert all(u.reason for u in directory.unreadable)
    assert not any(b"secret" in f.content for f in directory.files)  # no symlink followed


def test_prune_never_touches_a_running_id_in_another_case(tmp_path: Path) -> None:
    """The case the fuzz found: on aardvark < 1.1 (ids keep their case) a line under
    ``AAAA...`` is another container than the running ``aaaa...``, but the prune drops
    lines case-insensitively: the repair must refuse rather than take the live line."""
    from aardcheck.repair.apply import HostAccess, apply_plan
    from tests.faults.sandbox import make_sandbox

    live, upper = IDS[0], IDS[0].upper()
    content = f"10.50.0.1\n{live} 10.50.0.2  web\n{upper} 10.50.0.3  old\n".encode()
    box = make_sandbox(tmp_path, None)
    target = box.write("n0", content)
    running = containers_from_compat(
        [{"Id": live, "Names": ["/web"], "State": "running", "NetworkSettings": {}}]
    )
    snap = Snapshot(
        directory=DnsDirectory(
            RunDir(box.run_dir, Scope.ROOTFUL, 0),
            True,
            (parse_network_file(target, content, AardvarkVersion(1, 0)),),
        ),
        podman=PodmanState(running, networks_from_libpod([{"name": "n0", "dns_enabled": True}])),
        aardvark_version=AardvarkVersion(1, 0),
        liveness=(AddressLiveness("n0", ip_address("10.50.0.3"), Liveness.SILENT),),
    )
    prunes = [a for a in build_plan(snap, analyse(snap)).actions if isinstance(a, PruneLines)]
    assert [a.container_id for a in prunes] == [upper]
    access = HostAccess(
        run_dir=RunDir(box.run_dir, Scope.ROOTFUL, os.stat(box.run_dir).st_uid),
        version=AardvarkVersion(1, 0),
        podman_lock=box.graph_root / "networks" / "netavark.lock",
        network_config_dir=box.graph_root / "networks",
        fresh_containers=lambda: running,
    )
    (change,) = apply_plan(RepairPlan(tuple(prunes), ()), access)
    assert change.status == "skipped" and "runs under this id" in change.detail, change
    assert target.read_bytes() == content
