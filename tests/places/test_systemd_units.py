"""The unit files: one source of truth, valid for systemd, installed where it looks."""

from __future__ import annotations

import filecmp
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aardcheck.cli.app import app
from aardcheck.install.systemd import (
    DEFAULT_AARDCHECK,
    DEFAULT_PODMAN_COMPOSE,
    plan_install,
    units_root,
)
from tests.places.stack import podman_compose_program
from tests.realpodman import in_ci

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "systemd"
SHIPPED = REPO / "aardcheck" / "install" / "units"
DROP_IN = "user/podman-compose@.service.d/aardcheck-preflight.conf"


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_shipped_copy_never_diverges() -> None:
    """systemd/ is the source; aardcheck/install/units/ is what the package ships.
    After editing a unit: rm -r aardcheck/install/units && cp -r systemd aardcheck/install/units"""
    assert tree(SOURCE) == tree(SHIPPED)
    _, mismatch, errors = filecmp.cmpfiles(SOURCE, SHIPPED, tree(SOURCE), shallow=False)
    assert (mismatch, errors) == ([], [])
    assert units_root().resolve() == SHIPPED.resolve()


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if in_ci():
            pytest.fail("systemd-analyze is missing (apt-get install systemd)")
        pytest.skip("systemd-analyze is missing (apt-get install systemd)")
    return found


def _installed_copy(tmp_path: Path) -> Path:
    """The units as `systemd install` writes them: ExecStart names programs that exist."""
    aardcheck = shutil.which("aardcheck") or str(Path(sys.executable).parent / "aardcheck")
    root = tmp_path / "units"
    shutil.copytree(SOURCE, root)
    for path in root.rglob("*"):
        if path.is_file():
            text = path.read_text().replace(DEFAULT_AARDCHECK, aardcheck)
            path.write_text(text.replace(DEFAULT_PODMAN_COMPOSE, podman_compose_program()))
    return root


def _verify(argv: list[str], env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    # verify exits 0 on unknown keys but prints them: any output is a failure here
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_system_units_verify(tmp_path: Path) -> None:
    root = _installed_copy(tmp_path)
    _verify([_systemd_analyze(), "verify", *map(str, sorted((root / "system").iterdir()))])


def test_user_units_and_drop_in_verify(tmp_path: Path) -> None:
    """The drop-in is checked on an instance of podman-compose 1.6.0's own template."""
    analyze = _systemd_analyze()
    root = _installed_copy(tmp_path)
    user = root / "user"
    (user / "podman-compose@.service").write_text(_podman_compose_template())
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    units = [str(p) for p in sorted(user.glob("aardcheck-*"))]
    units.append(str(user / "podman-compose@myproject.service"))
    _verify([analyze, "--user", "verify", *units], os.environ | {"XDG_RUNTIME_DIR": str(runtime)})


def _create_unit_template() -> str:
    """podman-compose 1.6.0's `systemd -a create-unit` unit text, read from its source."""
    spec = importlib.util.find_spec("podman_compose")
    if spec is None or spec.origin is None:
        pytest.skip("podman-compose is not installed (pip install podman-compose==1.6.0)")
    source = Path(spec.origin).read_text()
    match = re.search(r'out = f"""\\\n# \{fn\}\n(.*?)"""', source, re.S)
    assert match, "podman-compose's create-unit template moved: re-check the drop-in"
    return match.group(1)


def _podman_compose_template() -> str:
    text = _create_unit_template()
    text = text.replace("{stacks_dir}", ".config/containers/compose/projects")
    return text.replace("{script}", podman_compose_program())


def test_drop_in_repeats_podman_composes_own_steps() -> None:
    """The drop-in empties ExecStartPre= and lists the pre-flight first, then exactly the
    steps podman-compose 1.6.0's template has (its {script} is podman-compose)."""
    theirs = [
        line.replace("{script}", DEFAULT_PODMAN_COMPOSE)
        for line in _create_unit_template().splitlines()
        if line.startswith("ExecStartPre=")
    ]
    ours = [
        line
        for line in (SOURCE / DROP_IN).read_text().splitlines()
        if line.startswith("ExecStartPre")
    ]
    assert ours == [
        "ExecStartPre=",
        f"ExecStartPre={DEFAULT_AARDCHECK} preflight --fix -p %i",
        *theirs,
    ]


def _dry_run(*args: str) -> list[str]:
    result = CliRunner().invoke(app, ["systemd", "install", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    return [line.split()[0] for line in result.output.splitlines() if line.startswith("  /")]


def test_dry_run_system_paths() -> None:
    assert _dry_run("--system", "--aardcheck", "/opt/a/bin/aardcheck") == [
        "/etc/systemd/system/aardcheck-clean.service",
        "/etc/systemd/system/aardcheck-clean.timer",
        "/etc/systemd/system/aardcheck-watch.service",
        "/etc/systemd/user/podman-compose@.service.d/aardcheck-preflight.conf",
    ]


def test_dry_run_user_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    base = f"{tmp_path}/.config/systemd/user"
    assert _dry_run("--user") == [
        f"{base}/aardcheck-clean.service",
        f"{base}/aardcheck-clean.timer",
        f"{base}/aardcheck-watch.service",
        f"{base}/podman-compose@.service.d/aardcheck-preflight.conf",
    ]
    assert not (tmp_path / ".config").exists()


def test_install_with_prefix(tmp_path: Path) -> None:
    args = ["systemd", "install", "--system", "--prefix", str(tmp_path)]
    args += ["--aardcheck", "/opt/aardcheck/bin/aardcheck", "--podman-compose", "/usr/bin/pc"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "systemctl enable --now aardcheck-clean.timer" in first.output
    watch = (tmp_path / "etc/systemd/system/aardcheck-watch.service").read_text()
    assert "ExecStart=/opt/aardcheck/bin/aardcheck watch --fix" in watch
    drop_in = (tmp_path / "etc/systemd/user" / DROP_IN.removeprefix("user/")).read_text()
    assert "ExecStartPre=-/usr/bin/pc up --no-start" in drop_in
    again = plan_install(
        user=False, prefix=tmp_path, aardcheck="/opt/aardcheck/bin/aardcheck",
        podman_compose="/usr/bin/pc",
    )  # fmt: skip
    assert {c.status for c in again.copies} == {"unchanged"}


def test_package_ships_every_unit(tmp_path: Path) -> None:
    """setuptools' package-data patterns pick up the nested unit files."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    (src / "README.md").write_text("x\n")
    shutil.copytree(
        REPO / "aardcheck", src / "aardcheck", ignore=shutil.ignore_patterns("__pycache__")
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "build_py",
         "--build-lib", str(tmp_path / "lib")],
        cwd=src, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert tree(tmp_path / "lib" / "aardcheck" / "install" / "units") == tree(SOURCE)
