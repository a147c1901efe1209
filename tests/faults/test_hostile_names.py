"""Container names and aliases with spaces, commas, quotes, ``$(...)``, backticks,
newlines and terminal escapes: never given to a shell or as a command's option, always
shown escaped, kept byte for byte in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aardcheck.errors import ExitCode
from tests.faults.fake_api import Attachment, FakeContainer, hex_id
from tests.faults.sandbox import GATEWAY, NET, OLD, OLD_LINE, Sandbox, make_sandbox


def _hostile(canary: Path) -> list[str]:
    return [
        "a b",
        "a,b",
        'it\'s "quoted"',
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"; touch {canary}",
        "line\nbreak",
        "\x1b[31mred\x1b[0m",
        "--help",
        "-rf",
    ]


def _containers(canary: Path) -> list[FakeContainer]:
    """Running containers named as above, each also carrying the name as an alias."""
    return [
        FakeContainer(
            hex_id(f"h{i}"),
            name,
            "running",
            (Attachment(NET, f"10.99.7.{20 + i}", (name, f"{name}-alias"), GATEWAY),),
        )
        for i, name in enumerate(_hostile(canary))
    ]


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    canary = tmp_path / "canary"
    lines = [f"{GATEWAY}\n"]
    for i, c in enumerate(_containers(canary)):
        # a line at the wrong address: names a file line can hold (no space, no newline)
        lines.append(f"{c.id} 10.99.7.{200 + i}  {c.id[:12]}\n")
    # a stopped container whose names field holds shell and terminal metacharacters
    lines.append(f'{OLD.id} 10.99.7.3  $(touch${{IFS}}{canary}),it\'s,"q",`id`,\x1b[2j,\r\n')
    return make_sandbox(tmp_path, "".join(lines).encode())


def _printable(text: str) -> bool:
    return all(line.isprintable() for line in text.splitlines())


def test_hostile_names_are_shown_escaped(box: Sandbox) -> None:
    canary = box.root / "canary"
    fake = box.fake(*_containers(canary), OLD)
    with box.api(fake) as url:
        base = ("check", "--no-probe", "--url", url, "--run-dir", box.run_dir)
        text = box.run(*base)
        as_json = box.run(*base, "--format", "json")
    assert text.returncode == as_json.returncode == ExitCode.FINDINGS, text.stderr
    assert _printable(text.stdout), text.stdout
    assert "line\\nbreak" in text.stdout and "\\x1b[31mred" in text.stdout
    assert "\x1b" not in text.stdout + text.stderr
    names = {f["name"] for f in json.loads(as_json.stdout)["findings"]}
    assert {"line\nbreak", "\x1b[31mred\x1b[0m", 'it\'s "quoted"'} <= names  # exact in JSON
    assert not canary.exists()


def test_hostile_names_never_reach_a_shell_or_an_option(box: Sandbox) -> None:
    canary = box.root / "canary"
    hostile = _containers(canary)
    with box.api(box.fake(*hostile, OLD)) as url:
        proc = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    calls = box.podman_calls()
    # every running container's line is rewritten by podman itself, named by its id only
    assert sorted(calls) == sorted(["network", "reload", c.id] for c in hostile), calls
    assert not canary.exists()
    assert _printable(proc.stdout) and _printable(proc.stderr), proc.stdout + proc.stderr
    assert "\x1b" not in proc.stdout + proc.stderr
    assert "line\\nbreak" in proc.stderr  # the change log names it, escaped
    content = (box.dns_dir / NET).read_bytes()
    assert OLD.id.encode() not in content  # the stopped container's line went
    assert all(c.id.encode() in content for c in hostile)  # the live ones are podman's


def test_hostile_network_and_directory_names_are_shown_escaped(tmp_path: Path) -> None:
    """An orphan file whose name (the network's) holds a newline and terminal escapes, in
    a run directory whose own path holds one: deleted by fix, every output line printable."""
    box = make_sandbox(tmp_path / "run\x1b[2Jdir")
    orphan = box.write("gone\n\x1b[31m$(id)", f"{GATEWAY}\n".encode() + OLD_LINE)
    with box.api(box.fake()) as url:
        base = ("--no-probe", "--url", url, "--run-dir", box.run_dir)
        check = box.run("check", *base)
        fix = box.run("fix", "--yes", *base)
    for proc in (check, fix):
        assert _printable(proc.stdout) and _printable(proc.stderr), proc.stdout + proc.stderr
        assert "\x1b" not in proc.stdout + proc.stderr
    assert "gone\\n\\x1b[31m$(id)" in check.stdout and "run\\x1b[2Jdir" in check.stdout
    assert "delete-file [gone\\n\\x1b[31m$(id)]" in fix.stderr
    assert fix.returncode == ExitCode.CLEAN and not orphan.exists()
