"""watchdog observers on a temporary aardvark-dns directory: present, absent, re-created."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aardcheck.watch.directories import DirectoryWatch, classify, nearest_existing
from tests.watch.recorder import Recorder

Call = tuple[frozenset[str] | None, str]


@pytest.fixture
def recorder() -> Recorder[Call]:
    return Recorder()


@pytest.fixture
def watch(recorder: Recorder[Call]) -> Iterator[DirectoryWatch]:
    w = DirectoryWatch(lambda nets, why: recorder.add((nets, why)))
    w.start()
    yield w
    w.stop()


def networks(calls: list[Call]) -> set[str]:
    return {n for nets, _ in calls if nets for n in nets}


def test_classify(tmp_path: Path) -> None:
    d = tmp_path / "networks" / "aardvark-dns"
    assert classify(d, d / "web") == (frozenset({"web"}), False)
    assert classify(d, d / "web%int") == (frozenset({"web"}), False)
    assert classify(d, d / "aardvark.pid") == (None, False)
    assert classify(d, d) == (None, True)
    assert classify(d, tmp_path / "networks") == (None, True)
    assert classify(d, tmp_path / "networks" / "ipam.db") is None


def test_nearest_existing(tmp_path: Path) -> None:
    assert nearest_existing(tmp_path / "a" / "b") == tmp_path
    assert nearest_existing(tmp_path) == tmp_path


def test_file_changes_name_their_network(
    tmp_path: Path, watch: DirectoryWatch, recorder: Recorder[Call]
) -> None:
    d = tmp_path / "aardvark-dns"
    d.mkdir()
    assert watch.add([d]) == [f"watching {d}"]
    (d / "web").write_text("10.89.0.1\n")
    assert recorder.wait_for(lambda calls: "web" in networks(calls))
    (d / "db%int").write_text("10.89.1.1\n")
    assert recorder.wait_for(lambda calls: "db" in networks(calls))
    (d / "web").unlink()
    assert recorder.wait_for(lambda calls: any("deleted" in why for _, why in calls))


def test_reading_a_file_wakes_nothing(
    tmp_path: Path, watch: DirectoryWatch, recorder: Recorder[Call]
) -> None:
    d = tmp_path / "aardvark-dns"
    d.mkdir()
    (d / "web").write_text("10.89.0.1\n")
    watch.add([d])
    (d / "web").read_text()
    (d / "marker").write_text("")  # an event that must arrive after any read event
    assert recorder.wait_for(lambda calls: "marker" in networks(calls))
    assert networks(recorder.items) == {"marker"}


def test_missing_directory_is_watched_through_its_parent(
    tmp_path: Path, watch: DirectoryWatch, recorder: Recorder[Call]
) -> None:
    d = tmp_path / "networks" / "aardvark-dns"
    assert watch.add([d]) == [f"{d} does not exist; watching {tmp_path} for it to appear"]
    (tmp_path / "unrelated").write_text("")
    d.mkdir(parents=True)
    assert recorder.wait_for(lambda calls: any(nets is None for nets, _ in calls))
    assert watch.needs_rearm
    notes = watch.rearm()
    assert notes[-1] == f"watching {d}"
    assert watch.watched() == {d: d}
    (d / "web").write_text("10.89.0.1\n")
    assert recorder.wait_for(lambda calls: "web" in networks(calls))
    assert "unrelated" not in networks(recorder.items)


def test_deleted_and_recreated_directory(
    tmp_path: Path, watch: DirectoryWatch, recorder: Recorder[Call]
) -> None:
    d = tmp_path / "aardvark-dns"
    d.mkdir()
    watch.add([d])
    shutil.rmtree(d)
    assert recorder.wait_for(lambda calls: any(nets is None for nets, _ in calls))
    watch.rearm()
    assert watch.watched() == {d: tmp_path}
    recorder.clear()
    d.mkdir()
    assert recorder.wait_for(lambda calls: any(nets is None for nets, _ in calls))
    watch.rearm()
    assert watch.watched() == {d: d}
    (d / "web").write_text("10.89.0.1\n")
    assert recorder.wait_for(lambda calls: "web" in networks(calls))


def test_recreated_between_rearms_is_noticed_by_inode(
    tmp_path: Path, watch: DirectoryWatch, recorder: Recorder[Call]
) -> None:
    d = tmp_path / "aardvark-dns"
    d.mkdir()
    watch.add([d])
    shutil.rmtree(d)
    d.mkdir()  # before the loop re-arms: same path, new directory
    assert recorder.wait_for(lambda calls: any(nets is None for nets, _ in calls))
    assert watch.rearm() == [f"watching {d}"]
    (d / "web").write_text("10.89.0.1\n")
    assert recorder.wait_for(lambda calls: "web" in networks(calls))


def test_stop_joins_every_observer_thread(tmp_path: Path, recorder: Recorder[Call]) -> None:
    before = set(threading.enumerate())
    w = DirectoryWatch(lambda nets, why: recorder.add((nets, why)))
    w.start()
    w.add([tmp_path / "a", tmp_path / "b" / "c"])
    w.stop()
    assert set(threading.enumerate()) - before == set()
