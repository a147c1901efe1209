"""The parser's fast path gives exactly the general parser's entry, or steps aside."""

from __future__ import annotations

import gc
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aardcheck.format.fastpath import gc_paused, parse_v4, parse_v6, quick_entry
from aardcheck.format.grammar import grammar_for
from aardcheck.format.parse import _parse_entry
from aardcheck.models import AardvarkVersion, Entry

VERSIONS = [AardvarkVersion(1, 0), AardvarkVersion(1, 1), AardvarkVersion(1, 4)]
CID = "a" * 64


def _general(line: str, version: AardvarkVersion) -> Entry | str:
    return _parse_entry(line, 2, grammar_for(version))


@pytest.mark.parametrize("version", VERSIONS, ids=str)
@pytest.mark.parametrize(
    "line",
    [
        f"{CID} 10.89.0.2  web,app,{CID[:12]}",
        f"{CID} 10.89.0.2 fd00::2 web",
        f"{CID}  fd00::2 web",
        f"{CID}   web",  # no address at all: accepted by aardvark
        f"{CID.upper()} 10.89.0.2  Web,APP",  # folded from 1.1
        f"{CID} 10.89.0.2  ,,",  # empty names are accepted
        f"{CID} ::ffff:1.2.3.4 fd00::2 web",  # IPv6 in the IPv4 column: refused
    ],
)
def test_fast_path_equals_the_general_parser(line: str, version: AardvarkVersion) -> None:
    grammar = grammar_for(version)
    quick = quick_entry(line, 2, grammar.lowercase)
    assert quick is None or (type(quick) is Entry and quick == _general(line, version))


@pytest.mark.parametrize(
    "line",
    [
        f"{CID} 10.89.0.2,10.89.0.3  web",  # a list: the grammar decides (>= 1.2)
        f"{CID} 010.89.0.2  web",  # leading zero: refused, with the grammar's reason
        f"{CID} 10.89.0.2  web 10.0.0.1",  # a DNS column
        f"{CID} 10.89.0.2  web ",  # trailing space
        f"{CID} 10.89.0.2 web",  # three fields
        f"{CID} 10.89.0.2\r  web",
    ],
)
def test_anything_unusual_goes_to_the_general_parser(line: str) -> None:
    assert quick_entry(line, 2, True) is None


_ADDRESS = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["", "1.2.3", "01.2.3.4", "1.2.3.4%eth0", "[::1]", "1.2.3.4,5.6.7.8"]),
)
_FIELD = st.text(alphabet=st.sampled_from("aAbZ0,- .\t\r\u00df\u03a3"), max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    cid=_FIELD,
    v4=_ADDRESS,
    v6=_ADDRESS,
    names=_FIELD,
    version=st.sampled_from(VERSIONS),
)
def test_fast_path_never_disagrees(
    cid: str, v4: str, v6: str, names: str, version: AardvarkVersion
) -> None:
    line = f"{cid} {v4} {v6} {names}"
    grammar = grammar_for(version)
    quick = quick_entry(line, 7, grammar.lowercase)
    if quick is not None:
        assert quick == _parse_entry(line, 7, grammar)


def test_addresses_are_ordinary_addresses() -> None:
    made = parse_v4("10.1.2.3")
    assert made == IPv4Address("10.1.2.3") and hash(made) == hash(IPv4Address("10.1.2.3"))
    assert parse_v4("10.1.2") is None and parse_v4("010.1.2.3") is None
    assert parse_v4("1.2.3.4\x00") is None and parse_v4("\udcff") is None
    assert parse_v6("fd00::1") == IPv6Address("fd00::1") and parse_v6("fe80::1%eth0") is None


def test_a_quick_entry_is_an_ordinary_immutable_entry() -> None:
    entry = quick_entry(f"{CID} 10.89.0.2  web", 3, False)
    assert type(entry) is Entry
    assert entry == Entry(
        3, f"{CID} 10.89.0.2  web", CID, (IPv4Address("10.89.0.2"),), (), ("web",)
    )
    with pytest.raises(AttributeError):
        entry.raw = "changed"  # type: ignore[misc]


def test_gc_paused_nests_and_restores_the_collector() -> None:
    was = gc.isenabled()
    gc.enable()
    try:
        with gc_paused():
            assert not gc.isenabled()
            with gc_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with gc_paused():
            pass
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
