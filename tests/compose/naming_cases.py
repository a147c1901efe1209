"""Compose naming cases: files, arguments and environment -> project and network names.

One line per case. Every case is checked twice: against ``aardcheck.compose.project`` with an
in-memory file system (``test_naming``) and against the real podman-compose
1.6.0 driving a fake podman (``test_differential``), so the table itself is
verified against podman-compose's behaviour, not just our reading of its source.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from aardcheck.compose.project import ComposeArgs

#: The project directory of every case (its base name is the fallback project name).
PROJECT_DIR = "My-App.v2"

NO_ARGS = ComposeArgs()
W = "services: {web: {image: x}}"
WD = "services: {web: {image: x}, db: {image: y}}"


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]
    project: str
    networks: tuple[str, ...]
    args: ComposeArgs = NO_ARGS
    env: dict[str, str] = field(default_factory=dict)
    #: networks that must exist beforehand (external ones)
    existing: tuple[str, ...] = ()


def c(
    id: str,
    files: dict[str, str] | str,
    project: str,
    networks: tuple[str, ...],
    args: ComposeArgs = NO_ARGS,
    env: dict[str, str] | None = None,
    existing: tuple[str, ...] = (),
) -> Case:
    files = {"compose.yaml": files} if isinstance(files, str) else files
    return Case(id, files, project, networks, args, env or {}, existing)


P = ComposeArgs
# fmt: off
CASES = [
    c("directory-name", W, "my-appv2", ("my-appv2_default",)),
    c("p-verbatim", W, "My.App", ("My.App_default",), P(project_name="My.App")),
    c("env-beats-name", "name: fromfile\n" + W, "fromenv", ("fromenv_default",), env={"COMPOSE_PROJECT_NAME": "fromenv"}),  # noqa: E501
    c("p-beats-env", W, "cli", ("cli_default",), P(project_name="cli"), {"COMPOSE_PROJECT_NAME": "env"}),  # noqa: E501
    c("top-level-name", "name: shop\n" + W, "shop", ("shop_default",)),
    c("name-upper-dropped", "name: MyApp\n" + W, "ypp", ("ypp_default",)),
    c("name-interpolated", 'name: "${STACK:-shop}-x"\n' + W, "shop-x", ("shop-x_default",)),
    c("name-from-env-var", 'name: "${STACK}"\n' + W, "blue", ("blue_default",), env={"STACK": "blue"}),  # noqa: E501
    c("dotenv-project", {"compose.yaml": W, ".env": "COMPOSE_PROJECT_NAME=fromdotenv\n"}, "fromdotenv", ("fromdotenv_default",)),  # noqa: E501
    c("env-beats-dotenv", {"compose.yaml": W, ".env": "COMPOSE_PROJECT_NAME=dot\n"}, "proc", ("proc_default",), env={"COMPOSE_PROJECT_NAME": "proc"}),  # noqa: E501
    c("dotenv-var-in-net", {"compose.yaml": W + "\nnetworks: {default: {name: '${N}'}}", ".env": "N='lit$x'\n"}, "my-appv2", ("lit$x",)),  # noqa: E501
    c("network-name-override", W + "\nnetworks: {default: {name: plain}}", "my-appv2", ("plain",)),
    c("dollar-dollar", W + "\nnetworks: {default: {name: 'a$$b'}}", "my-appv2", ("a$b",)),
    c("external-true", "services: {web: {image: x, networks: [ext]}}\nnetworks: {ext: {external: true}}", "my-appv2", ("ext",), existing=("ext",)),  # noqa: E501
    c("external-named", "services: {web: {image: x, networks: [ext]}}\nnetworks: {ext: {external: true, name: shared}}", "my-appv2", ("shared",), existing=("shared",)),  # noqa: E501
    c("list-form", "services: {web: {image: x, networks: [front, back]}}\nnetworks: {front: {}, back: {}}", "my-appv2", ("my-appv2_front", "my-appv2_back")),  # noqa: E501
    c("mapping-form", "services: {web: {image: x, networks: {back: {aliases: [b]}}}}\nnetworks: {front: {}, back: {}}", "my-appv2", ("my-appv2_back",)),  # noqa: E501
    c("only-network-is-default", WD + "\nnetworks: {front: {}}", "my-appv2", ("my-appv2_front",)),
    c("no-default-uses-podman", "services: {web: {image: x}, db: {image: y, networks: [a]}}\nnetworks: {a: {}, b: {}}", "my-appv2", ("my-appv2_a",)),  # noqa: E501
    c("declared-default", WD + "\nnetworks: {default: {}, other: {}}", "my-appv2", ("my-appv2_default",)),  # noqa: E501
    c("network-mode-host", "services: {web: {image: x, network_mode: host}, db: {image: y}}", "my-appv2", ("my-appv2_default",)),  # noqa: E501
    c("network-mode-only", "services: {web: {image: x, network_mode: host}}", "my-appv2", ()),
    c("empty-networks-key", "services: {web: {image: x, networks: }}", "my-appv2", ("my-appv2_default",)),  # noqa: E501
    c("separator-compat", "x-podman: {name_separator_compat: true}\n" + W, "my-appv2", ("my-appv2-default",)),  # noqa: E501
    c("net-name-compat", "x-podman: {default_net_name_compat: true}\n" + W, "my-appv2", ("myappv2_default",)),  # noqa: E501
    c("docker-compat-env", "services: {web: {image: x, networks: [a]}, db: {image: y}}\nnetworks: {a: {}, b: {}}", "my-appv2", ("my-appv2-a", "my-appv2-default"), env={"PODMAN_COMPOSE_DOCKER_COMPOSE_COMPAT": "1"}),  # noqa: E501
    c("profile-inactive", "services: {web: {image: x}, dbg: {image: y, profiles: [debug], networks: [d]}}\nnetworks: {default: {}, d: {}}", "my-appv2", ("my-appv2_default",)),  # noqa: E501
    c("profile-arg", "services: {web: {image: x}, dbg: {image: y, profiles: [debug], networks: [d]}}\nnetworks: {default: {}, d: {}}", "my-appv2", ("my-appv2_default", "my-appv2_d"), P(profiles=("debug",))),  # noqa: E501
    c("profile-env", "services: {web: {image: x}, dbg: {image: y, profiles: [debug], networks: [d]}}\nnetworks: {default: {}, d: {}}", "my-appv2", ("my-appv2_default", "my-appv2_d"), env={"COMPOSE_PROFILES": "debug"}),  # noqa: E501
    c("override-file-merges", {"compose.yaml": "services: {web: {image: x, networks: [a]}}\nnetworks: {a: {}, b: {}}", "compose.override.yaml": "services: {web: {networks: [b]}}"}, "my-appv2", ("my-appv2_a", "my-appv2_b")),  # noqa: E501
    c("reset-tag", {"base.yaml": "services: {web: {image: x, networks: [a]}}\nnetworks: {default: {}, a: {}}", "dev.yaml": "services: {web: {networks: !reset []}}"}, "my-appv2", ("my-appv2_default",), P(files=("base.yaml", "dev.yaml"))),  # noqa: E501
    c("override-tag", {"base.yaml": "services: {web: {image: x, networks: [a]}}\nnetworks: {a: {}, b: {}}", "dev.yaml": "services: {web: {networks: !override [b]}}"}, "my-appv2", ("my-appv2_b",), P(files=("base.yaml", "dev.yaml"))),  # noqa: E501
    c("second-name-ignored", {"a.yaml": "name: first\n" + W, "b.yaml": "name: second\n"}, "first", ("first_default",), P(files=("a.yaml", "b.yaml"))),  # noqa: E501
    c("compose-file-env", {"x.yaml": W, "y.yaml": "networks: {default: {name: fromy}}"}, "my-appv2", ("fromy",), env={"COMPOSE_FILE": "x.yaml:y.yaml"}),  # noqa: E501
    c("include", {"compose.yaml": "include: [sub/more.yaml]\n" + W, "sub/more.yaml": "services: {db: {image: y, networks: [n]}}\nnetworks: {default: {}, n: {}}"}, "my-appv2", ("my-appv2_default", "my-appv2_n")),  # noqa: E501
    c("extends-same-file", "services: {base: {image: x, networks: [n]}, web: {extends: base}}\nnetworks: {n: {}}", "my-appv2", ("my-appv2_n",)),  # noqa: E501
    c("unused-not-created", W + "\nnetworks: {default: {}, spare: {}}", "my-appv2", ("my-appv2_default",)),  # noqa: E501
    c("subdir-file", {"deploy/compose.yaml": W}, "deploy", ("deploy_default",), P(files=("deploy/compose.yaml",))),  # noqa: E501
]
# fmt: on


class MemoryFiles:
    """A read-only file system of literal texts (absolute paths, no symlinks)."""

    def __init__(self, root: str, files: dict[str, str]) -> None:
        self.files = {os.path.normpath(os.path.join(root, p)): t for p, t in files.items()}
        self.dirs = {os.path.dirname(p) for p in self.files} | {root}

    def read_text(self, path: str) -> str:
        try:
            return self.files[os.path.normpath(path)]
        except KeyError:
            raise FileNotFoundError(path) from None

    def exists(self, path: str) -> bool:
        return self.is_file(path) or self.is_dir(path)

    def is_file(self, path: str) -> bool:
        return os.path.normpath(path) in self.files

    def is_dir(self, path: str) -> bool:
        return os.path.normpath(path) in self.dirs

    def realpath(self, path: str) -> str:
        return os.path.normpath(path)
