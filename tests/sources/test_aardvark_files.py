"""read_dns_directory over every fixture case, then the entries git cannot hold."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from aardcheck.models import AardvarkVersion, RunDir, Scope
from aardcheck.sources.aardvark_files import (
    UnreadableFile,
    installed_aardvark_version,
    read_dns_directory,
    read_network_file,
)
from tests.oracle.cases import Case, load_cases

V1_4 = AardvarkVersion(1, 4)
V1_12 = AardvarkVersion(1, 12)
CASES = load_cases()
GOOD = b"10.89.0.1\n" + b"a" * 64 + b" 10.89.0.2  web\n"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fixture_directory(case: Case) -> None:
    for label, version in (("1.4", V1_4), ("1.12", V1_12)):
        directory = read_dns_directory(case.run_dir, version)
        assert directory.exists
        assert [f.path.name for f in directory.files] == sorted(case.files)
        for parsed in directory.files:
            expected = case.files[parsed.path.name]
            assert (parsed.defect is None) == (expected.verdict["1.4"] == "ok")
            assert parsed.network == expected.network
        breaks = {u.path.name: u.breaks_aardvark for u in directory.unreadable}
        assert breaks == {name: v[label] for name, v in case.unreadable.items()}
        assert directory.aardvark_pid == case.aardvark_pid
        assert all(u.reason for u in directory.unreadable)


def _run_dir(tmp_path: Path) -> RunDir:
    (tmp_path / "aardvark-dns").mkdir(exist_ok=True)
    return RunDir(tmp_path, Scope.ROOTFUL, 0)


def test_missing_directory(tmp_path: Path) -> None:
    directory = read_dns_directory(RunDir(tmp_path, Scope.ROOTFUL, 0), V1_4)
    assert not directory.exists and not directory.files and not directory.unreadable


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "aardvark-dns").write_bytes(b"")
    directory = read_dns_directory(RunDir(tmp_path, Scope.ROOTFUL, 0), V1_4)
    assert not directory.exists
    assert "not a directory" in directory.unreadable[0].reason


def test_directory_that_is_a_symlink_is_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "net").write_bytes(GOOD)
    (tmp_path / "aardvark-dns").symlink_to(real)
    directory = read_dns_directory(RunDir(tmp_path, Scope.ROOTFUL, 0), V1_4)
    assert not directory.files
    assert "symlink" in directory.unreadable[0].reason


@pytest.mark.parametrize(
    ("content", "breaks_1_4", "breaks_1_12"), [(GOOD, True, True), (b"junk\n", True, False)]
)
def test_non_utf8_file_name(
    tmp_path: Path, content: bytes, breaks_1_4: bool, breaks_1_12: bool
) -> None:
    run_dir = _run_dir(tmp_path)
    with open(os.path.join(os.fsencode(run_dir.dns_dir), b"caf\xe9"), "wb") as fh:
        fh.write(content)
    for version, breaks in ((V1_4, breaks_1_4), (V1_12, breaks_1_12)):
        directory = read_dns_directory(run_dir, version)
        assert not directory.files
        (entry,) = directory.unreadable
        assert entry.breaks_aardvark is breaks
        assert "not valid UTF-8" in entry.reason
        assert os.fsencode(entry.path.name) == b"caf\xe9"


def test_fifo_is_never_opened_for_reading(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    os.mkfifo(run_dir.dns_dir / "pipe")
    for version in (V1_4, V1_12):
        (entry,) = read_dns_directory(run_dir, version).unreadable
        assert entry.breaks_aardvark and "FIFO" in entry.reason


def test_symlink_to_a_directory(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    (tmp_path / "target").mkdir()
    (run_dir.dns_dir / "link").symlink_to(tmp_path / "target")
    (entry,) = read_dns_directory(run_dir, V1_4).unreadable
    assert entry.breaks_aardvark and "subdirectory" in entry.reason


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    (run_dir.dns_dir / "net").write_bytes(GOOD)
    directory = read_dns_directory(run_dir, V1_4, max_bytes=16)
    (entry,) = directory.unreadable
    assert "limit" in entry.reason and not entry.breaks_aardvark


def test_file_vanishing_between_listing_and_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _run_dir(tmp_path)
    (run_dir.dns_dir / "net").write_bytes(GOOD)
    real_open = os.open

    def vanish(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == "net":
            raise FileNotFoundError(2, "No such file or directory")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("aardcheck.sources.aardvark_files.os.open", vanish)
    (entry,) = read_dns_directory(run_dir, V1_4).unreadable
    assert "vanished" in entry.reason and not entry.breaks_aardvark


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = _run_dir(tmp_path)
    (run_dir.dns_dir / "net").write_bytes(GOOD)
    real_open = os.open

    def deny(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == "net":
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("aardcheck.sources.aardvark_files.os.open", deny)
    (entry,) = read_dns_directory(run_dir, V1_4).unreadable
    assert "Permission denied" in entry.reason and entry.breaks_aardvark
    (entry,) = read_dns_directory(run_dir, V1_12).unreadable
    assert not entry.breaks_aardvark


def test_pid_file_that_is_a_directory(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    (run_dir.dns_dir / "aardvark.pid").mkdir()
    directory = read_dns_directory(run_dir, V1_4)
    assert directory.aardvark_pid is None
    assert "not a regular file" in directory.unreadable[0].reason


def test_file_mode_is_untouched(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    target = run_dir.dns_dir / "net"
    target.write_bytes(GOOD)
    target.chmod(0o600)
    before = target.stat()
    read_dns_directory(run_dir, V1_4)
    after = target.stat()
    assert stat.S_IMODE(after.st_mode) == 0o600 and after.st_mtime_ns == before.st_mtime_ns


def test_read_network_file(tmp_path: Path) -> None:
    good = tmp_path / "net"
    good.write_bytes(GOOD)
    assert read_network_file(good) == GOOD
    (tmp_path / "link").symlink_to(good)
    with pytest.raises(UnreadableFile, match="symlink"):
        read_network_file(tmp_path / "link")
    with pytest.raises(UnreadableFile, match="limit"):
        read_network_file(good, max_bytes=8)
    with pytest.raises(UnreadableFile, match="subdirectory"):
        read_network_file(tmp_path)


def _fake_aardvark(directory: Path, script: str) -> Path:
    directory.mkdir()
    binary = directory / "aardvark-dns"
    binary.write_text("#!/bin/sh\n" + script)
    binary.chmod(0o755)
    return directory


def test_installed_version_from_a_fake_binary(tmp_path: Path) -> None:
    broken = _fake_aardvark(tmp_path / "broken", "echo nonsense\n")
    good = _fake_aardvark(
        tmp_path / "good", "echo 'failed to connect to syslog' >&2\necho 'aardvark-dns 9.8.7'\n"
    )
    assert installed_aardvark_version([tmp_path / "absent", broken, good]) == AardvarkVersion(
        9, 8, 7
    )
    assert installed_aardvark_version([tmp_path / "absent"]) is None


def test_installed_version_times_out(tmp_path: Path) -> None:
    slow = _fake_aardvark(tmp_path / "slow", "exec sleep 30\n")
    assert installed_aardvark_version([slow], timeout=0.3) is None


@pytest.mark.skipif(
    not os.access("/usr/lib/podman/aardvark-dns", os.X_OK), reason="aardvark-dns not installed"
)
def test_installed_version_of_the_real_binary() -> None:
    version = installed_aardvark_version()
    assert version is not None and version >= AardvarkVersion(1, 0)
