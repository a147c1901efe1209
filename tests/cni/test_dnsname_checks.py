"""Findings of dnsname networks, from the fixture run directory and a literal podman state."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from aardcheck.dnsname.checks import check_dnsname, liveness_wanted
from aardcheck.dnsname.hosts_format import parse_hosts
from aardcheck.dnsname.model import DnsnameNetwork, DnsnameRoot
from aardcheck.findings import Kind
from aardcheck.models import (
    AddressLiveness,
    Attachment,
    Container,
    Liveness,
    Network,
    PodmanState,
    Subnet,
)
from aardcheck.sources.dnsname_files import dnsname_dir_for, read_dnsname_root

ROOT = Path(__file__).resolve().parents[2] / "fixtures" / "dnsname" / "host-rootful" / "dnsname"
WEB = Network(
    name="web",
    id="n1",
    interface="cni-podman5",
    subnets=(Subnet(ip_network("10.89.5.0/24"), ip_address("10.89.5.1")),),
)
IDLE = Network(name="idle", id="n2", interface="cni-podman6")


def _on_web(address: str, *aliases: str) -> tuple[Attachment, ...]:
    return (Attachment("web", ipv4=(ip_address(address),), aliases=aliases),)  # type: ignore[arg-type]


STATE = PodmanState(
    containers=(
        Container("a" * 64, "web-live", "running", _on_web("10.89.5.2", "app")),
        Container("c" * 64, "web-stopped", "exited", _on_web("10.89.5.4")),
        Container("d" * 64, "web-moved", "running", _on_web("10.89.5.5")),
        # a newer container under an old name: the line's short id is another one's
        Container("f" * 64, "web-reused", "running", _on_web("10.89.5.10")),
        Container("1" * 64, "web-unlisted", "running", _on_web("10.89.5.11")),
    ),
    networks=(WEB, IDLE),
)
SILENT = (
    AddressLiveness("web", ip_address("10.89.5.3"), Liveness.SILENT),
    AddressLiveness("web", ip_address("10.89.5.8"), Liveness.SILENT),
    AddressLiveness("web", ip_address("10.89.5.6"), Liveness.ALIVE),
)


def _found() -> set[tuple[str, str, str, str]]:
    findings = check_dnsname(read_dnsname_root(ROOT), STATE, liveness=SILENT)
    return {(str(f.kind), f.network, f.name, f.address) for f in findings}


EXPECTED = {
    ("dead-entry", "web", "web-dead", "10.89.5.3"),
    ("dead-entry", "web", "web-reused", "10.89.5.8"),
    ("unknown-entry", "web", "web-other-store", "10.89.5.6"),
    ("stopped-entry", "web", "web-stopped", "10.89.5.4"),
    ("wrong-address", "web", "web-moved", "10.89.5.9"),
    ("duplicate-entry", "web", "web-live", "10.89.5.2"),
    ("unparsable-file", "web", "broken", ""),
    ("unparsable-file", "web", "", "10.89.5.7"),
    ("missing-entry", "web", "web-moved", "10.89.5.5"),
    ("missing-entry", "web", "web-reused", "10.89.5.10"),
    ("missing-entry", "web", "web-unlisted", "10.89.5.11"),
    ("orphan-file", "gone", "", ""),
}


def test_every_kind_of_the_fixture_host() -> None:
    assert _found() == EXPECTED


@pytest.mark.parametrize("finding", sorted(EXPECTED))
def test_each_expected_finding(finding: tuple[str, str, str, str]) -> None:
    assert finding in _found()


def test_a_silent_address_unchecked_is_never_called_dead() -> None:
    findings = check_dnsname(read_dnsname_root(ROOT), STATE)
    kinds = {(str(f.kind), f.name) for f in findings}
    assert ("unknown-entry", "web-dead") in kinds
    assert not any(f.kind is Kind.DEAD_ENTRY for f in findings)


def test_selection_limits_the_networks() -> None:
    findings = check_dnsname(
        read_dnsname_root(ROOT), STATE, selected=frozenset({"gone"}), liveness=SILENT
    )
    assert {(str(f.kind), f.network) for f in findings} == {("orphan-file", "gone")}


def test_findings_point_at_the_line() -> None:
    findings = check_dnsname(read_dnsname_root(ROOT), STATE, liveness=SILENT)
    dead = next(f for f in findings if f.kind is Kind.DEAD_ENTRY and f.name == "web-dead")
    assert (dead.path, dead.line_no, dead.container_id) == (
        str(ROOT / "web" / "addnhosts"),
        2,
        "bbbbbbbbbbbb",
    )


def test_liveness_is_asked_for_unowned_lines_only() -> None:
    wanted = liveness_wanted(read_dnsname_root(ROOT), STATE)
    assert {n: {str(a) for a in addrs} for n, addrs in wanted.items()} == {
        "web": {"10.89.5.3", "10.89.5.8", "10.89.5.6"}
    }


def test_root_reading(tmp_path: Path) -> None:
    root = read_dnsname_root(ROOT)
    assert [n.network for n in root.networks] == ["gone", "idle", "web"]
    web = root.network("web")
    assert web is not None and web.pid == 4242 and web.conf is not None
    assert web.conf.interface == "cni-podman5"
    idle = root.network("idle")
    assert idle is not None and not idle.has_hosts and not idle.unreadable
    assert not read_dnsname_root(tmp_path / "absent").exists


def test_symlinked_addnhosts_is_unreadable_not_followed(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "secret").write_text("10.0.0.9 leaked\n")
    (tmp_path / "net" / "addnhosts").symlink_to(tmp_path / "secret")
    (tmp_path / "stray").write_text("x")
    root = read_dnsname_root(tmp_path)
    net = root.network("net")
    assert net is not None and "symlink" in net.unreadable and net.lines == ()
    assert [p.name for p, _ in root.odd] == ["secret", "stray"]


def test_plugin_directory_rule() -> None:
    assert dnsname_dir_for(rootless=False, xdg_runtime_dir="/run/user/0") == Path(
        "/run/containers/cni/dnsname"
    )
    assert dnsname_dir_for(rootless=True, xdg_runtime_dir="/run/user/1000") == Path(
        "/run/user/1000/containers/cni/dnsname"
    )


def test_a_line_under_another_name_belongs_to_the_container_its_short_id_names() -> None:
    """A renamed container (or a pod's infra container named after its pod) keeps a line
    whose name no container has: its short-id alias still ties it to the container."""
    infra = Container(
        "9" * 64, "pod-infra", "running", _on_web("10.89.5.20"), pod="p", is_infra=True
    )
    root = DnsnameRoot(
        ROOT,
        True,
        (
            DnsnameNetwork(
                "web", ROOT / "web", lines=parse_hosts(b"10.89.5.20\tmypod\t999999999999\n")
            ),
        ),
    )
    state = PodmanState(containers=(infra,), networks=(WEB,))
    assert check_dnsname(root, state) == ()
