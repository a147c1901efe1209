"""Routing podman events to networks, and the one-line error description."""

from __future__ import annotations

from aardcheck.watch.output import describe_error
from aardcheck.watch.routing import memberships
from tests.scenario_loader import load_scenario


def test_live_containers_and_stale_lines_are_both_routed() -> None:
    snap = load_scenario("seed-dead-alias")
    members = memberships(snap)
    dead = "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"
    assert members[dead] == frozenset({"proj_default"})  # only a line, no container
    live = [c.id for c in snap.podman.containers]
    assert all(members[c] for c in live)


def test_describe_error_names_the_place() -> None:
    empty: dict[str, int] = {}
    try:
        empty["missing"]
    except KeyError as err:
        text = describe_error(err)
    assert text.startswith("KeyError: 'missing' (at test_routing.py:")
