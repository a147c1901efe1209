"""What a watcher check may settle at once: lines that outlived their container."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aardcheck.models import Snapshot
from aardcheck.watch.early import lines_outlived, owed_checks
from tests.scenario_loader import load_scenario

DEAD = "cba06b5736faf67e54b07b561eae94395e774c517a7d910a54369e1263ccfbd4"


def _on_two_networks(tmp_path: Path) -> tuple[Snapshot, Path]:
    """The seed scenario with its file copied twice, as two networks' files (and the
    second one's path)."""
    snap = load_scenario("seed-dead-alias")
    source = snap.directory.files[0]
    a, b = tmp_path / "net_a", tmp_path / "net_b"
    for path in (a, b):
        path.write_text(source.path.read_text())
    files = (replace(source, path=a), replace(source, network="net_b", path=b))
    return replace(snap, directory=replace(snap.directory, files=files)), b


def test_a_listed_container_whose_lines_outlived_its_removal(tmp_path: Path) -> None:
    snap, _ = _on_two_networks(tmp_path)
    assert DEAD not in {c.id for c in snap.podman.containers}
    listed_before = {DEAD, *(c.id for c in snap.podman.containers)}
    assert lines_outlived(snap, listed_before) == frozenset({DEAD})
    # never listed by this podman (another store's line): says nothing about our database
    assert lines_outlived(snap, listed_before - {DEAD}) == frozenset()


def test_a_line_gone_on_the_read_after_the_listing_was_a_teardown(tmp_path: Path) -> None:
    """One network's line went on the re-read: the teardown was under way when the files
    were read, so none of the container's lines is taken as outlived."""
    snap, b = _on_two_networks(tmp_path)
    b.write_text(b.read_text().replace(DEAD, "0" * 64))
    assert lines_outlived(snap, {DEAD}) == frozenset()
    b.unlink()
    assert lines_outlived(snap, {DEAD}) == frozenset()


def test_a_removed_containers_lines_elsewhere_are_owed_a_check_once(tmp_path: Path) -> None:
    snap, _ = _on_two_networks(tmp_path)
    first = snap.directory.files[0].network
    listed_before = {DEAD, *(c.id for c in snap.podman.containers)}
    # a check of the first network: the line on net_b is the next check's to call
    owed = owed_checks(snap, listed_before, {}, {first}, ())
    assert owed == {DEAD: {"net_b"}}
    assert owed_checks(snap, listed_before, {}, {first}, ("net_c",)) == {}
    # a check that covered both, or every network: nothing left for another
    assert owed_checks(snap, listed_before, {}, {first, "net_b"}, ()) == {}
    assert owed_checks(snap, listed_before, {}, None, ()) == {}
    # still listed, or never listed: not a removal
    assert owed_checks(snap, listed_before - {DEAD}, {}, {first}, ()) == {}
    # net_b's check pays what was owed, and owes nothing back to the first network
    assert owed_checks(snap, listed_before, owed, {"net_b"}, ()) == {}
    assert owed_checks(snap, listed_before, owed, {"net_x"}, ()) == owed
