"""The addnhosts grammar (dnsmasq reads, dnsname writes/removes) and dnsmasq.conf keys."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from aardcheck.dnsname.hosts_format import (
    BAD_ADDRESS,
    NO_NAME,
    NOT_UTF8,
    parse_conf,
    parse_hosts,
    parse_line,
    render_without,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dnsname"


def test_real_podman_431_line() -> None:
    (line,) = parse_hosts((FIXTURES / "podman-4.3.1-real" / "addnhosts").read_bytes())
    assert line.address == ip_address("10.213.216.2")
    assert line.name == "aard16-hand-a"
    assert line.aliases == ("app", "83438effdace")
    assert line.short_id == "83438effdace"
    assert line.defect is None


@pytest.mark.parametrize(
    ("raw", "name", "aliases", "defect"),
    [
        ("10.0.0.2\tweb", "web", (), None),
        ("  10.0.0.2   web  a b ", "web", ("a", "b"), None),
        ("10.0.0.2\tweb # comment", "web", (), None),
        ("fd00::2\tweb\tapp", "web", ("app",), None),
        ("10.0.0.300\tweb", "web", (), BAD_ADDRESS),
        ("10.0.0.0/24\tweb", "web", (), BAD_ADDRESS),
        ("web\t10.0.0.2", "10.0.0.2", (), BAD_ADDRESS),
        ("10.0.0.2", "", (), NO_NAME),
        ("10.0.0.2 #web", "", (), NO_NAME),
    ],
)
def test_line_grammar(raw: str, name: str, aliases: tuple[str, ...], defect: str | None) -> None:
    line = parse_line(1, raw)
    assert line is not None
    assert (line.name, line.aliases, line.defect) == (name, aliases, defect)


@pytest.mark.parametrize("raw", ["", "   ", "# only a comment", "\t#x"])
def test_blank_and_comment_lines_are_not_lines(raw: str) -> None:
    assert parse_line(1, raw) is None


def test_short_id_only_when_last_alias_is_12_hex() -> None:
    assert parse_line(1, "10.0.0.2 web app").short_id == ""  # type: ignore[union-attr]
    assert parse_line(1, "10.0.0.2 web ABCDEF012345").short_id == "abcdef012345"  # type: ignore[union-attr]
    assert parse_line(1, "10.0.0.2 web abcdef01234").short_id == ""  # type: ignore[union-attr]
    assert parse_line(1, "10.0.0.2 web abcdef012345 app").short_id == ""  # type: ignore[union-attr]


def test_numbers_count_every_line_and_non_utf8_is_a_defect() -> None:
    lines = parse_hosts(b"# head\n\n10.0.0.2\tweb\n\xff\xfe\tbad\r\n10.0.0.3\tdb\r\n")
    assert [(ln.line_no, ln.name, ln.defect) for ln in lines] == [
        (3, "web", None),
        (4, "", NOT_UTF8),
        (5, "db", None),
    ]


def test_render_without_keeps_every_other_byte() -> None:
    content = b"10.0.0.2\tweb\n\xff odd\n10.0.0.3\tdead\tx\n10.0.0.4\tdb"
    assert render_without(content, frozenset({3})) == b"10.0.0.2\tweb\n\xff odd\n10.0.0.4\tdb"
    assert render_without(b"a\nb\n", frozenset({2})) == b"a\n"


def test_conf_keys_of_the_real_template() -> None:
    conf = parse_conf((FIXTURES / "podman-4.3.1-real" / "dnsmasq.conf").read_text())
    assert conf.addn_hosts == "/run/containers/cni/dnsname/aard16-hand-n1/addnhosts"
    assert conf.pid_file == "/run/containers/cni/dnsname/aard16-hand-n1/pidfile"
    assert conf.interface == "cni-podman1"
    assert conf.domain == "dns.podman"
