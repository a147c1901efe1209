"""``aardcheck lint`` of a dnsname ``addnhosts`` file: dnsmasq's grammar, not aardvark's."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from aardcheck.cli.app import app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "dnsname"


def _lint(path: Path) -> tuple[int, dict[str, object]]:
    done = CliRunner().invoke(app, ["lint", "--aardvark-version", "1.4", "-o", "json", str(path)])
    (result,) = json.loads(done.stdout)["files"]
    return done.exit_code, result


def test_the_real_file_podman_wrote_is_accepted() -> None:
    code, result = _lint(FIXTURES / "podman-4.3.1-real" / "addnhosts")
    assert (code, result["ok"], result["entries"]) == (0, True, 1)


def test_a_line_dnsmasq_skips_is_rejected_with_its_number(tmp_path: Path) -> None:
    hosts = tmp_path / "addnhosts"
    hosts.write_text("10.0.0.2\tweb\tapp\n10.0.0.300\tbad\n10.0.0.4\n")
    code, result = _lint(hosts)
    assert (code, result["ok"], result["line"]) == (1, False, 2)
    assert "bad address" in str(result["reason"]) and "1 more" in str(result["reason"])


def test_the_same_bytes_under_another_name_are_judged_as_aardvark(tmp_path: Path) -> None:
    other = tmp_path / "web"
    other.write_text("10.0.0.2\tweb\tapp\n")
    code, result = _lint(other)
    assert code == 1 and result["ok"] is False  # no aardvark header: not an addnhosts rule
