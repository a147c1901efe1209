"""The aardvark file grammar: one line per fixture case, then properties (hypothesis)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aardcheck.format.edit import is_effectively_empty, remove_entries
from aardcheck.format.grammar import consequence, is_per_address_group, network_name
from aardcheck.format.lint import Effect, gateway_clashes
from aardcheck.format.parse import grammar_defects, parse_network_file
from aardcheck.models import AardvarkVersion, Entry, NetworkFile
from aardcheck.report.lint_report import render_text
from aardcheck.runner.lint import lint_paths
from tests.oracle.cases import (
    GRAMMARS,
    Case,
    ExpectedFile,
    address_text,
    entry_doc,
    header_doc,
    load_cases,
)

V1_0 = AardvarkVersion(1, 0)
V1_4 = AardvarkVersion(1, 4)
V1_11 = AardvarkVersion(1, 11)
V1_12 = AardvarkVersion(1, 12)
V1_14 = AardvarkVersion(1, 14)
CASES = load_cases()
FILE_CASES = [(c, f) for c in CASES for f in c.files.values()]


def _verdict(parsed_defect_line: int | None, accepted: bool) -> str | int:
    if accepted:
        return "ok"
    return "file" if parsed_defect_line is None else parsed_defect_line


# --------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize(
    ("case", "expected"), FILE_CASES, ids=[f"{c.name}/{f.name}" for c, f in FILE_CASES]
)
def test_fixture_file(case: Case, expected: ExpectedFile) -> None:
    content = case.content(expected.name)
    path = case.dns_dir / expected.name
    for label, versions in GRAMMARS.items():
        for version in versions:
            parsed = parse_network_file(path, content, version)
            line = parsed.defect.line_no if parsed.defect else None
            got = _verdict(line, parsed.defect is None)
            assert got == expected.verdict[label], f"aardvark {version}: {parsed.defect}"
            if parsed.defect is None or label == "1.4":
                assert [entry_doc(e) for e in parsed.entries] == expected.entries_for(label)
            assert parsed.network == expected.network
            assert parsed.internal == expected.internal
            assert parsed.content == content
    assert header_doc(parse_network_file(path, content, V1_4).header) == expected.header


@pytest.mark.parametrize(
    ("case", "expected"), FILE_CASES, ids=[f"{c.name}/{f.name}" for c, f in FILE_CASES]
)
def test_fixture_file_round_trips(case: Case, expected: ExpectedFile) -> None:
    content = case.content(expected.name)
    parsed = parse_network_file(Path(expected.name), content, V1_4)
    lines = content.decode("utf-8", "surrogateescape").split("\n")
    for entry in parsed.entries:
        assert lines[entry.line_no - 1] == entry.raw
    assert remove_entries(content, set()) == content
    ids = {e.container_id for e in parsed.entries if e.container_id}
    pruned = parse_network_file(Path(expected.name), remove_entries(content, ids), V1_4)
    assert not {e.container_id for e in pruned.entries} & ids
    assert pruned.header == parsed.header


@pytest.mark.parametrize("case", [c for c in CASES if c.per_address_groups], ids=lambda c: c.name)
def test_netavark_1_0_lines_are_a_per_address_group(case: Case) -> None:
    for file_name, _ in case.per_address_groups:
        parsed = parse_network_file(Path(file_name), case.content(file_name), V1_4)
        assert is_per_address_group(parsed.entries)


def test_duplicate_lines_are_not_a_per_address_group() -> None:
    case = next(c for c in CASES if c.name == "duplicate-lines")
    parsed = parse_network_file(Path("net"), case.content("net"), V1_4)
    assert not is_per_address_group(parsed.entries)


def _entry(line_no: int, cid: str, address: str, names: tuple[str, ...] = ("web",)) -> Entry:
    ip = ip_address(address)
    v4 = (ip,) if isinstance(ip, IPv4Address) else ()
    v6 = (ip,) if isinstance(ip, IPv6Address) else ()
    return Entry(line_no, "", cid, v4, v6, names)


@pytest.mark.parametrize(
    ("entries", "subnets", "expected"),
    [
        ([_entry(2, "a", "10.0.0.2"), _entry(3, "a", "fd00::2")], [], True),
        ([_entry(2, "a", "10.0.0.2"), _entry(3, "a", "10.0.0.2")], [], False),
        ([_entry(2, "a", "10.0.0.2"), _entry(3, "b", "fd00::2")], [], False),
        ([_entry(2, "a", "10.0.0.2"), _entry(3, "a", "fd00::2", ("db",))], [], False),
        ([_entry(2, "a", "10.0.0.2")], [], False),
        ([_entry(2, "a", "10.0.0.2"), _entry(3, "a", "10.0.0.5")], ["10.0.0.0/24"], False),
        (
            [_entry(2, "a", "10.0.0.2"), _entry(3, "a", "10.0.1.2")],
            ["10.0.0.0/24", "10.0.1.0/24"],
            True,
        ),
        ([_entry(2, "a", "10.0.0.2"), _entry(3, "a", "10.9.1.2")], ["10.0.0.0/24"], False),
    ],
)
def test_is_per_address_group(entries: list[Entry], subnets: list[str], expected: bool) -> None:
    assert is_per_address_group(entries, [ip_network(s) for s in subnets]) is expected


# --------------------------------------------------------------------------- details


@pytest.mark.parametrize(
    ("file_name", "network", "internal"),
    [
        ("web", "web", False),
        ("web%int", "web", True),
        ("%int", "%int", False),
        ("a%intx", "a%intx", False),
    ],
)
def test_network_name(file_name: str, network: str, internal: bool) -> None:
    assert network_name(file_name) == (network, internal)


def test_defect_says_what_and_consequence_per_version() -> None:
    content = b"10.89.0.1\nabc 10.89.0.2 web\n"
    old = parse_network_file(Path("net"), content, V1_4).defect
    new = parse_network_file(Path("net"), content, V1_12).defect
    assert old is not None and new is not None
    assert "3 space-separated fields" in old.reason and old.line_no == 2
    assert "every network" in old.reason and "1.4.0" in old.reason
    assert "skips this file" in new.reason
    assert consequence(V1_12) in new.reason


def test_grammar_defects_lists_every_problem_in_order() -> None:
    content = b"10.89.0.1\nabc 10.89.0.2 web\nok 10.89.0.3  db\nbad fd00::1  x\n"
    defects = grammar_defects(content, V1_4)
    assert [d.line_no for d in defects] == [2, 4]
    assert "IPv6 address in the IPv4 column" in defects[1].reason


def test_lines_after_a_defect_still_parse() -> None:
    content = b"10.89.0.1\nabc 10.89.0.2,  web\nok 10.89.0.3  db\n"
    parsed = parse_network_file(Path("net"), content, V1_4)
    assert parsed.defect is not None and parsed.defect.line_no == 2
    assert [e.container_id for e in parsed.entries] == ["ok"]


def test_same_text_on_two_lines_keeps_each_line_number() -> None:
    content = b"10.89.0.1\nabc 10.89.0.2  web\n\nabc 10.89.0.2  web\n"
    entries = parse_network_file(Path("net"), content, V1_4).entries
    assert [e.line_no for e in entries] == [2, 4]


@pytest.mark.parametrize(
    ("content", "ids", "expected"),
    [
        (b"gw\nAA x\nbb y\n", {"aa"}, b"gw\nbb y\n"),
        (b"gw\naa x\nbb y", {"bb"}, b"gw\naa x\n"),
        (b"\n\ngw\n\naa x\n\nbb y\n", {"aa"}, b"\n\ngw\n\n\nbb y\n"),
        (b"gw\naa x\naa z\n", {"AA"}, b"gw\n"),
        (b"gw\nbb aa\n", {"aa"}, b"gw\nbb aa\n"),  # only the first field counts
        (b"aa\naa x\n", {"aa"}, b"aa\n"),  # the header is never a container line
        (b"gw\naab x\n", {"aa"}, b"gw\naab x\n"),  # no prefix or substring match
        (b"gw\n   \naa x\n", {""}, b"gw\n   \naa x\n"),
        (b"gw\naa x \xff\n", {"aa"}, b"gw\n"),
        (b"", {"aa"}, b""),
    ],
)
def test_remove_entries(content: bytes, ids: set[str], expected: bytes) -> None:
    assert remove_entries(content, ids) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", True),
        (b"\n\n", True),
        (b"10.89.0.1\n", True),
        (b"\n10.89.0.1\n\n\n", True),
        (b"10.89.0.1\nabc 10.89.0.2  web", False),
        (b"10.89.0.1\n   \n", False),
    ],
)
def test_is_effectively_empty(content: bytes, expected: bool) -> None:
    assert is_effectively_empty(content) is expected


# ------------------------------------------------------------ 1.12+: what a rejection costs

#: The effect lint gives a file that repeats another network's gateway, per release.
CLASH_EFFECT = {V1_4: Effect.NETWORK_DOWN, V1_11: Effect.NETWORK_DOWN, V1_14: Effect.START_FAILS}


def test_version_switches() -> None:
    assert not V1_11.skips_bad_files and V1_12.skips_bad_files
    assert not V1_11.start_checks_listeners and V1_14.start_checks_listeners
    assert not AardvarkVersion(1, 10, 9).merges_internal_files and V1_11.merges_internal_files
    assert (V1_4.answer_ttl, V1_14.answer_ttl) == (86400, 0)


@pytest.mark.parametrize("version", [V1_4, V1_14], ids=str)
@pytest.mark.parametrize(
    ("case", "expected"), FILE_CASES, ids=[f"{c.name}/{f.name}" for c, f in FILE_CASES]
)
def test_lint_effect_of_each_fixture_file(
    case: Case, expected: ExpectedFile, version: AardvarkVersion
) -> None:
    """1.4 refuses the whole directory for a bad file; 1.14 skips only that network."""
    (result,) = lint_paths([case.dns_dir / expected.name], version)
    if expected.verdict["1.4"] == "ok":
        assert result.ok and result.effect is Effect.NONE
    else:
        assert not result.ok and result.checked
        want = Effect.NETWORK_DOWN if version >= V1_12 else Effect.ALL_DOWN
        assert result.effect is want


@pytest.mark.parametrize("version", list(CLASH_EFFECT), ids=str)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_lint_reports_shared_gateways(case: Case, version: AardvarkVersion) -> None:
    results = lint_paths([case.dns_dir], version)
    effect = CLASH_EFFECT[version]
    has_defect = {name for name, f in case.files.items() if f.verdict["1.4"] != "ok"} | {
        name for name, breaks in case.unreadable.items() if breaks.get("1.12")
    }
    clashing = sorted(r.path.name for r in results if r.effect is effect)
    if effect is Effect.NETWORK_DOWN and version < V1_12:
        clashing = [n for n in clashing if n not in has_defect]
    assert clashing == sorted(case.clashing_files(version))


def _file(name: str, content: str, version: AardvarkVersion = V1_14) -> NetworkFile:
    return parse_network_file(Path(name), content.encode(), version)


def test_gateway_clashes_pure() -> None:
    web = "10.89.0.1,fd00::1\nabc 10.89.0.2  web\n"
    (clash,) = gateway_clashes([_file("b", web), _file("a", "fd00::1\n")], V1_14)
    assert (clash.path.name, clash.holder.name, str(clash.gateway)) == ("b", "a", "fd00::1")
    assert gateway_clashes([_file("a", "10.89.0.1,10.89.0.1\n")], V1_14) == ()
    bad = _file("b", "10.89.0.1\nabc 10.89.0.2, web\n")
    assert gateway_clashes([_file("a", web), bad], V1_14) == ()  # skipped: binds nothing
    internal = [_file("a", web, V1_4), _file("a%int", web, V1_4)]
    assert len(gateway_clashes(internal, V1_4)) == 2
    assert gateway_clashes(internal, V1_11) == ()


def test_lint_summary_names_the_consequence(tmp_path: Path) -> None:
    (tmp_path / "net").write_bytes(b"10.89.0.1\nabc 10.89.0.2,  web\n")
    old = render_text(lint_paths([tmp_path / "net"], V1_4))
    new = render_text(lint_paths([tmp_path / "net"], V1_14))
    assert "DNS stops for every network" in old and "1.4.0" in old
    assert "the others keep resolving" in new and "1.14.0" in new


def test_cli_aardvark_version_picks_the_grammar() -> None:
    from typer.testing import CliRunner

    from aardcheck.cli.app import app

    path = str(next(c for c in CASES if c.name == "trailing-comma-ipv4").dns_dir / "net")
    for option, effect in (("1.4", "all-down"), ("1.14", "network-down")):
        done = CliRunner().invoke(app, ["lint", "--aardvark-version", option, "-o", "json", path])
        assert done.exit_code == 1, done.output
        (doc,) = json.loads(done.stdout)["files"]
        assert (doc["aardvark_version"], doc["effect"]) == (f"{option}.0", effect)


def test_lint_detects_the_installed_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aardcheck.sources import aardvark_files

    fake = tmp_path / "bin" / "aardvark-dns"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'aardvark-dns 1.14.0'\n")
    fake.chmod(0o755)
    found = aardvark_files.installed_aardvark_version([fake.parent])
    assert found == AardvarkVersion(1, 14, 0)
    monkeypatch.setattr(aardvark_files, "installed_aardvark_version", lambda: found)
    (tmp_path / "net").write_bytes(b"10.89.0.1\nabc 10.89.0.2,  web\n")
    (result,) = lint_paths([tmp_path / "net"], None)
    assert result.version == found and result.effect is Effect.NETWORK_DOWN


# --------------------------------------------------------------------------- properties

VERSIONS = [v for versions in GRAMMARS.values() for v in versions]
FUZZ_ALPHABET = b" ,\n\r\t.:%[]#0123456789abcdefABCDEF\xff\xef\xbb\xbf"


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.lists(st.sampled_from(list(FUZZ_ALPHABET)), max_size=300).map(bytes),
    ),
    version=st.sampled_from(VERSIONS),
)
def test_parser_never_raises(content: bytes, version: AardvarkVersion) -> None:
    parsed = parse_network_file(Path("net"), content, version)
    assert parsed.content == content
    assert parsed.defect is not None or parsed.header is not None
    assert remove_entries(content, set()) == content


hex_id = st.binary(min_size=32, max_size=32).map(bytes.hex)
name = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=20)
v4 = st.integers(0, 2**32 - 1).map(IPv4Address)
v6 = st.integers(0, 2**128 - 1).map(IPv6Address)
any_ip = st.one_of(v4, v6)


@st.composite
def valid_files(draw: st.DrawFn) -> tuple[bytes, list[dict[str, object]]]:
    """A file every grammar >= 1.4 accepts, and the entries it should parse to."""
    gateways = draw(st.lists(any_ip, min_size=1, max_size=3))
    header = ",".join(map(str, gateways))
    if draw(st.booleans()):
        header += " " + ",".join(map(str, draw(st.lists(any_ip, min_size=1, max_size=2))))
    lines = [header]
    expected: list[dict[str, object]] = []
    for _ in range(draw(st.integers(0, 6))):
        for _ in range(draw(st.integers(0, 2))):
            lines.append("")  # empty lines are skipped but counted
        cid = draw(hex_id)
        ipv4 = draw(st.lists(v4, max_size=3))
        ipv6 = draw(st.lists(v6, max_size=3))
        names = draw(st.lists(name, min_size=1, max_size=4))
        dns = draw(st.lists(any_ip, max_size=2))
        upper = draw(st.booleans())
        text = " ".join(
            [
                cid.upper() if upper else cid,
                ",".join(map(str, ipv4)),
                ",".join(map(str, ipv6)),
                ",".join(names),
            ]
        )
        if dns:
            text += " " + ",".join(map(str, dns))
        lines.append(text)
        expected.append(
            {
                "line": len(lines),
                "id": cid,
                "ipv4": [str(a) for a in ipv4],
                "ipv6": [address_text(a) for a in ipv6],  # one text on every Python
                "names": [n.lower() for n in names],
                "dns_servers": [address_text(a) for a in dns],
            }
        )
    body = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    return body.encode(), expected


@settings(max_examples=1000, deadline=None)
@given(generated=valid_files(), version=st.sampled_from(GRAMMARS["1.4"]))
def test_valid_file_parses_to_exactly_its_entries(
    generated: tuple[bytes, list[dict[str, object]]], version: AardvarkVersion
) -> None:
    content, expected = generated
    parsed = parse_network_file(Path("net"), content, version)
    assert parsed.defect is None, parsed.defect
    assert [entry_doc(e) for e in parsed.entries] == expected


def test_an_ipv4_mapped_address_reads_the_same_on_every_python() -> None:
    """Hypothesis found it: Python 3.11 writes ``::ffff:0:0`` where 3.13 writes
    ``::ffff:0.0.0.0``; the expected text must not depend on the interpreter."""
    content = b"0.0.0.0\n" + b"0" * 64 + b"   0 ::ffff:0:0"
    (entry,) = parse_network_file(Path("net"), content, GRAMMARS["1.4"][0]).entries
    assert entry_doc(entry)["dns_servers"] == ["::ffff:0.0.0.0"]


def _segments(content: bytes) -> list[bytes]:
    """Lines with their own newline (the last one may lack it)."""
    parts = content.split(b"\n")
    return [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _first_field(segment: bytes) -> str:
    return segment.rstrip(b"\n").split(b" ", 1)[0].decode("utf-8", "surrogateescape").lower()


@settings(max_examples=1000, deadline=None)
@given(generated=valid_files(), data=st.data())
def test_remove_entries_keeps_every_other_byte(
    generated: tuple[bytes, list[dict[str, object]]], data: st.DataObject
) -> None:
    content, expected = generated
    ids = {str(e["id"]) for e in expected}
    drop = data.draw(st.sets(st.sampled_from(sorted(ids))) if ids else st.just(set[str]()))
    result = remove_entries(content, {d.upper() for d in drop})
    kept = [s for s in _segments(content) if _first_field(s) not in drop]
    assert result == b"".join(kept)
    assert remove_entries(result, drop) == result  # idempotent
    before = parse_network_file(Path("net"), content, V1_4).entries
    after = parse_network_file(Path("net"), result, V1_4).entries
    assert [e.raw for e in after] == [e.raw for e in before if e.container_id not in drop]
    assert is_effectively_empty(result) == (set(drop) == ids)


@settings(max_examples=1000, deadline=None)
@given(
    content=st.lists(st.sampled_from(list(FUZZ_ALPHABET)), max_size=300).map(bytes),
    ids=st.sets(st.text("abAB ", max_size=3), max_size=3),
)
def test_remove_entries_on_garbage_only_drops_whole_lines(content: bytes, ids: set[str]) -> None:
    result = remove_entries(content, ids)
    assert remove_entries(result, ids) == result
    wanted = {i.lower() for i in ids if i}
    kept, header_seen = [], False
    for segment in _segments(content):
        is_header = not header_seen and segment != b"\n"
        header_seen = header_seen or is_header
        if is_header or segment == b"\n" or _first_field(segment) not in wanted:
            kept.append(segment)
    assert result == b"".join(kept)
