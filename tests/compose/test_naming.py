"""Compose naming rules, pure: one case per line in ``naming_cases``."""

from __future__ import annotations

import pytest

from aardcheck.compose.project import ComposeArgs, ComposeError, resolve_project
from tests.compose.naming_cases import CASES, PROJECT_DIR, Case, MemoryFiles

ROOT = f"/srv/{PROJECT_DIR}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_naming(case: Case) -> None:
    project = resolve_project(case.args, case.env, ROOT, MemoryFiles(ROOT, case.files))
    assert (project.name, tuple(n.name for n in project.networks)) == (
        case.project,
        case.networks,
    )


def test_name_sources() -> None:
    files = {"compose.yaml": "name: shop\nservices: {web: {image: x}}"}
    got = resolve_project(ComposeArgs(), {}, ROOT, MemoryFiles(ROOT, files))
    assert (got.name_source, got.directory, got.files) == ("name:", ROOT, ("compose.yaml",))


def test_external_lookup_name_kept() -> None:
    text = "services: {w: {image: x, networks: [e]}}\nnetworks: {e: {external: {name: real}}}"
    net = resolve_project(ComposeArgs(), {}, ROOT, MemoryFiles(ROOT, {"compose.yaml": text}))
    assert (net.networks[0].name, net.networks[0].lookup_name, net.networks[0].external) == (
        "e",
        "real",
        True,
    )


def test_pinned_subnets_and_members() -> None:
    text = (
        "services: {a: {image: x}, b: {image: y}}\n"
        "networks: {default: {ipam: {config: [{subnet: 10.9.8.0/24}]}}}"
    )
    net = resolve_project(ComposeArgs(), {}, ROOT, MemoryFiles(ROOT, {"compose.yaml": text}))
    assert (net.networks[0].subnets, net.networks[0].services) == (("10.9.8.0/24",), ("a", "b"))


def test_services_on_podman_network_are_listed() -> None:
    text = "services: {a: {image: x}, b: {image: y, networks: [n]}}\nnetworks: {n: {}, m: {}}"
    got = resolve_project(ComposeArgs(), {}, ROOT, MemoryFiles(ROOT, {"compose.yaml": text}))
    assert (got.on_podman_network, got.unused) == (("a",), ("m",))


def test_compose_project_dir_moves_the_start() -> None:
    fs = MemoryFiles("/", {"/opt/stack/compose.yaml": "services: {web: {image: x}}"})
    got = resolve_project(ComposeArgs(), {"COMPOSE_PROJECT_DIR": "/opt/stack"}, "/", fs)
    assert got.name == "stack"


@pytest.mark.parametrize(
    ("files", "args", "env", "message"),
    [
        ({"compose.yaml": "services: {}"}, ComposeArgs(files=("nope.yaml",)), {}, "missing"),
        ({"other.yaml": "services: {}"}, ComposeArgs(), {}, "no compose file"),
        ({"compose.yaml": "[1, 2]"}, ComposeArgs(), {}, "top-level mapping"),
        ({"compose.yaml": "a: [b"}, ComposeArgs(), {}, "not valid YAML"),
        ({"compose.yaml": "name: ...\nservices: {}"}, ComposeArgs(), {}, "empty once normalised"),
        ({"compose.yaml": "services: {w: {image: x, networks: [n]}}"}, ComposeArgs(), {}, "n"),
        ({"compose.yaml": "name: '${X:?need X}'"}, ComposeArgs(), {}, "need X"),
        ({"compose.yaml": "services: {}"}, ComposeArgs(files=("-",)), {}, "standard input"),
        ({"compose.yaml": "networks: [a]"}, ComposeArgs(), {}, "not a mapping"),
        (
            {"compose.yaml": "services: {a: {extends: b}, b: {extends: a}}"},
            ComposeArgs(),
            {},
            "loop",
        ),
    ],
)
def test_errors(
    files: dict[str, str], args: ComposeArgs, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ComposeError, match=message):
        resolve_project(args, env, ROOT, MemoryFiles(ROOT, files))
