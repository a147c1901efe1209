"""``python -m build``: the sdist and the wheel carry what aardcheck needs at run time,
and the wheel installed into a fresh virtual environment works without the checkout."""

from __future__ import annotations

import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.install.readme import quick_start
from tests.install.source import clean_env, copy_checkout, run, scratch_dir
from tests.realpodman.invoke import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
#: Files read at run time besides the modules: systemd units, the typing marker.
UNITS = sorted(
    str(p.relative_to(REPO_ROOT / "systemd"))
    for p in (REPO_ROOT / "systemd").rglob("*")
    if p.is_file()
)
RUNTIME_FILES = [
    "aardcheck/py.typed",
    "aardcheck/sources/netns_agent/__main__.py",
    "aardcheck/sources/netns_agent/task.py",
    "aardcheck/sources/netns_agent/dns_task.py",
    "aardcheck/sources/netns_agent/neigh_task.py",
    *(f"aardcheck/install/units/{unit}" for unit in UNITS),
]


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path
    venv: Path
    work: Path


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    work = scratch_dir("build")
    try:
        root = copy_checkout(work)
        dist = work / "dist"
        made = run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", dist, root])
        assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
        (wheel,) = dist.glob("aardcheck-*.whl")
        (sdist,) = dist.glob("aardcheck-*.tar.gz")
        venv = work / "venv"
        created = run([sys.executable, "-m", "venv", "--clear", venv], env=clean_env())
        assert created.returncode == 0, created.stderr
        pip = [venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "-q", wheel]
        installed = run(pip, env=clean_env())
        assert installed.returncode == 0, installed.stderr[-3000:]
        yield Built(wheel, sdist, venv, work)
    finally:
        run(["rm", "-rf", work])


def test_wheel_metadata_and_entry_point(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        info = f"aardcheck-{PYPROJECT['version']}.dist-info"
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert metadata["Name"] == "aardcheck"
    assert metadata["Version"] == PYPROJECT["version"]
    assert metadata["Requires-Python"] == PYPROJECT["requires-python"]
    required = {
        (r.name.lower(), r.specifier) for r in map(Requirement, metadata.get_all("Requires-Dist"))
    }
    for dependency in map(Requirement, PYPROJECT["dependencies"]):
        assert (dependency.name.lower(), dependency.specifier) in required, dependency
    assert f"aardcheck = {PYPROJECT['scripts']['aardcheck']}" in entry_points.splitlines()
    assert set(RUNTIME_FILES) <= names, sorted(set(RUNTIME_FILES) - names)
    assert not [n for n in names if n.startswith(("tests/", "bench/", "fixtures/"))]


def test_sdist_builds_the_same_package(built: Built) -> None:
    with tarfile.open(built.sdist) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", *RUNTIME_FILES} <= names


def test_installed_wheel_runs_without_the_checkout(built: Built) -> None:
    python = built.venv / "bin" / "python"
    where = run([python, "-c", "import aardcheck; print(aardcheck.__file__)"], env=clean_env(),
                cwd=built.work)  # fmt: skip
    package = Path(where.stdout.strip()).parent
    assert package.is_relative_to(built.venv), where.stdout + where.stderr
    assert (package / "py.typed").is_file()
    for unit in UNITS:
        assert (package / "install" / "units" / unit).read_bytes() == (
            REPO_ROOT / "systemd" / unit
        ).read_bytes()

    aardcheck = built.venv / "bin" / "aardcheck"
    version = run([aardcheck, "--version"], env=clean_env(), cwd=built.work)
    assert (version.returncode, version.stdout) == (0, f"aardcheck {PYPROJECT['version']}\n")

    prefix = built.work / "units"
    argv = [aardcheck, "systemd", "install", "--system", "--dry-run", "--prefix", prefix]
    shown = run([*argv, "--aardcheck", aardcheck], env=clean_env(), cwd=built.work)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    for unit in ("aardcheck-watch.service", "aardcheck-clean.service", "aardcheck-clean.timer"):
        assert unit in shown.stdout
    assert not prefix.exists()  # a dry run writes nothing


def test_pipx_installs_the_wheel_as_the_readme_says(built: Built) -> None:
    """The README's ``pipx install ./aardcheck-VERSION-py3-none-any.whl``, verbatim, next
    to the built wheel (its version in the README is the project's; pipx takes a bare
    file name for a package name, hence ``./``)."""
    command = quick_start("pipx install ./aardcheck-")
    assert command == f"pipx install ./{built.wheel.name}"
    pipx = {"PIPX_HOME": str(built.work / "pipx"), "PIPX_BIN_DIR": str(built.work / "pipx-bin")}
    done = run(["bash", "-c", command], env=clean_env(**pipx), cwd=built.wheel.parent)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    version = run([built.work / "pipx-bin" / "aardcheck", "--version"], env=clean_env())
    assert version.stdout == f"aardcheck {PYPROJECT['version']}\n"
