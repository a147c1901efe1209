"""podman JSON -> model: pods, aliases, addresses."""

from __future__ import annotations

from aardcheck.sources.podman_json import LibpodDetail, containers_from_compat


def _item(cid: str, name: str) -> dict[str, object]:
    return {
        "Id": cid,
        "Names": [f"/{name}"],
        "State": "running",
        "NetworkSettings": {
            "Networks": {"n": {"IPAddress": "10.89.0.2", "Aliases": ["web", cid[:12]]}}
        },
    }


def test_short_id_is_not_an_alias_and_name_is_served() -> None:
    (c,) = containers_from_compat([_item("a" * 64, "web1")])
    assert c.attachments[0].aliases == ("web",)
    assert c.dns_names("n") == ("web1", "web", "a" * 12)


def test_pod_members_share_the_infra_netns_only_when_the_pod_has_infra() -> None:
    infra, member = "a" * 64, "b" * 64
    with_infra = {infra: LibpodDetail(1, "p", True), member: LibpodDetail(2, "p", False)}
    by_id = {
        c.id: c for c in containers_from_compat([_item(infra, "i"), _item(member, "m")], with_infra)
    }
    assert by_id[infra].owns_network and not by_id[member].owns_network
    # podman-compose 1.x: a pod created with --infra=false; every member owns its netns
    no_infra = {member: LibpodDetail(2, "p", False)}
    (c,) = containers_from_compat([_item(member, "m")], no_infra)
    assert c.owns_network
