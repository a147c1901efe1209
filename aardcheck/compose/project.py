"""A compose project as ``podman-compose up`` (1.6.0) will name it: project and networks.

Pure: compose files, the environment and podman-compose's global arguments in, a
``ComposeProject`` out. Files are read through a ``FileAccess`` passed in (``LocalFiles``
for the real file system), so the rules are tested with literal data.

The rules, read from podman-compose 1.6.0's source (``_parse_compose_file``,
``default_network_name_for_project``, ``assert_cnt_nets``, ``get_net_args_from_networks``):

- files: ``-f`` (in order), else ``COMPOSE_FILE`` split on ``COMPOSE_PATH_SEPARATOR``,
  else every default name that exists (compose.yaml, compose.override.yaml,
  docker-compose.yml, ...), all merged in that order. ``COMPOSE_PROJECT_DIR`` in the
  environment is where relative paths start.
- environment: ``.env`` beside the first file, then ``--env-file`` (default ``.env``
  in the working directory), then the process environment, which wins except for
  ``PODMAN_*`` variables, where the file wins.
- project: ``-p`` verbatim; else ``COMPOSE_PROJECT_NAME``, else the first file's
  top-level ``name:``, else the lower-cased name of the first file's (real) directory;
  those three are interpolated and then every character outside ``[-_a-z0-9]`` is
  dropped (upper case included: ``name: MyApp`` gives ``ypp``).
- networks: no top-level ``networks:`` means one network, ``default``. A service with
  ``network_mode`` joins none of them; one without ``networks:`` joins the default
  network: the only declared one, else the one called ``default``, else podman's own
  ``podman`` network (``--network=bridge``).
- names: an external network is called by its ``name:`` or its key; any other by its
  ``name:``, else ``<project><sep><key>`` with ``sep`` ``_`` (``-`` with x-podman
  ``name_separator_compat``); with ``default_net_name_compat: true`` the project's
  dashes are dropped first. x-podman settings come from the top-level ``x-podman:``
  and ``PODMAN_COMPOSE_<SETTING>`` variables; ``docker_compose_compat`` turns on
  ``-`` and an always-present ``default`` network.
- ``up`` creates a missing non-external network (with the project labels) and reuses
  an existing one as it is; a missing external network stops ``up``.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aardcheck.compose.env import Environ, InterpolationError, project_environment, substitute
from aardcheck.compose.files import (
    ComposeError,
    FileAccess,
    LocalFiles,
    MergeError,
    anchor_extends,
    compose_files,
    load_yaml,
    merge_into,
    normalise,
    resolve_extends,
    unwrap_tags,
)

__all__ = [
    "ComposeArgs",
    "ComposeError",
    "ComposeInvocation",
    "ComposeNetwork",
    "ComposeProject",
    "parse_compose_argv",
    "resolve_project",
]

_NOT_IN_NAME = re.compile(r"[^-_a-z0-9]")
_TRUE = ("true", "1")
_FALSE = ("false", "0")


@dataclass(frozen=True, slots=True)
class ComposeArgs:
    """podman-compose's global options that decide names (``-f``, ``-p``, ...)."""

    files: tuple[str, ...] = ()
    project_name: str | None = None
    env_file: str = ".env"
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ComposeNetwork:
    key: str
    name: str
    external: bool
    services: tuple[str, ...]
    #: ``ipam.config[].subnet`` pinned in the file (podman picks one when empty).
    subnets: tuple[str, ...] = ()
    #: For ``external: {name: X}``: podman-compose 1.6.0 checks that X exists but
    #: attaches the containers to ``name`` (``name:`` or the key).
    lookup_name: str = ""


@dataclass(frozen=True, slots=True)
class ComposeProject:
    name: str
    #: where the name came from: "-p", "COMPOSE_PROJECT_NAME", "name:", "directory"
    name_source: str
    directory: str
    files: tuple[str, ...]
    networks: tuple[ComposeNetwork, ...]
    #: services that join podman's default network (no compose network applies)
    on_podman_network: tuple[str, ...] = ()
    #: declared networks no service joins (``up`` does not create them)
    unused: tuple[str, ...] = field(default=())


def parse_bool(value: object) -> bool | None:
    """podman-compose's reading of a boolean setting: bools, "true"/"1", "false"/"0"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    return None


# --------------------------------------------------------------------------- inputs


def choose_project_name(
    given: str | None, env: Environ, first_doc: Mapping[str, Any], directory: str
) -> tuple[str, str]:
    """(name, source) by podman-compose's order; raises ComposeError when it is empty."""
    if given:
        return given, "-p"
    raw: object
    if env.get("COMPOSE_PROJECT_NAME"):
        raw, source = env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME"
    elif first_doc.get("name"):
        raw, source = first_doc["name"], "name:"
    else:
        raw, source = os.path.basename(directory).lower(), "directory"
    if not isinstance(raw, str):
        raise ComposeError(f"the project name from {source} is not a string: {raw!r}")
    try:
        name = _NOT_IN_NAME.sub("", substitute(raw, env))
    except InterpolationError as err:
        raise ComposeError(f"project name: {err}") from None
    if not name:
        raise ComposeError(f"project name {raw!r} (from {source}) is empty once normalised")
    return name, source


# --------------------------------------------------------------------------- the project


def _read_all(
    files: list[str],
    cwd: str,
    directory: str,
    fs: FileAccess,
    env: dict[str, str | None],
    given: str | None,
) -> tuple[dict[str, Any], str, str]:
    """Merge every file (and the files they ``include``): (document, project, its source)."""
    merged: dict[str, Any] = {}
    name = source = ""
    queue = list(files)
    for index, path in enumerate(queue):
        if index > 100:
            raise ComposeError("more than 100 compose files (include loop?)")
        full = os.path.join(cwd, path)
        doc = load_yaml(fs.read_text(full), path)
        if not name:
            name, source = choose_project_name(given, env, doc, directory)
            env["COMPOSE_PROJECT_NAME"] = name
        try:
            doc = substitute(normalise(doc), env)
            anchor_extends(doc, os.path.dirname(path))
            merge_into(merged, doc)
        except (InterpolationError, MergeError) as err:
            raise ComposeError(f"{path}: {err}") from None
        for item in merged.pop("include", None) or []:
            rel = item.get("path") if isinstance(item, dict) else item
            if isinstance(rel, str) and rel:
                queue.append(os.path.join(os.path.dirname(path), rel))
    return unwrap_tags(merged), name, source


def _mapping(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise ComposeError(f"top-level {key}: is a {type(value).__name__}, not a mapping")
    return value


def _x_podman(doc: Mapping[str, Any], env: Environ) -> dict[str, Any]:
    raw = doc.get("x-podman")
    settings = dict(raw) if isinstance(raw, dict) else {}
    for key, value in env.items():
        if key.startswith("PODMAN_COMPOSE_") and key not in (
            "PODMAN_COMPOSE_PROVIDER",
            "PODMAN_COMPOSE_WARNING_LOGS",
        ):
            settings[key.removeprefix("PODMAN_COMPOSE_").lower()] = value
    if settings.get("docker_compose_compat"):
        settings.setdefault("default_net_behavior_compat", True)
        settings.setdefault("name_separator_compat", True)
    return settings


def _service_networks(service: Mapping[str, Any], default: str | None) -> list[str]:
    nets = service.get("networks") or default  # an empty ``networks:`` means the default
    if isinstance(nets, dict):
        return [str(k) for k in nets]
    if isinstance(nets, list):
        return [str(n) for n in nets]
    return [str(nets)] if nets else []


def _subnets(desc: Mapping[str, Any]) -> tuple[str, ...]:
    ipam = desc.get("ipam")
    config = (ipam.get("config") if isinstance(ipam, dict) else None) or []
    config = [config] if isinstance(config, dict) else config
    return tuple(str(c["subnet"]) for c in config if isinstance(c, dict) and c.get("subnet"))


def _active_services(
    doc: Mapping[str, Any], env: Environ, profiles: tuple[str, ...]
) -> dict[str, Any]:
    """Services without ``profiles:``, and those with a requested profile."""
    wanted = set(profiles) | {
        p.strip() for p in (env.get("COMPOSE_PROFILES") or "").split(",") if p.strip()
    }
    active: dict[str, Any] = {}
    for svc, raw in _mapping(doc, "services").items():
        desc = raw if isinstance(raw, dict) else {}
        own = desc.get("profiles") or []
        if not own or wanted & {str(p) for p in own}:
            active[str(svc)] = desc
    return active


def _default_network(nets: dict[str, Any], settings: Mapping[str, Any]) -> str | None:
    """The network of services that name none (None: podman's own network)."""
    if settings.get("default_net_behavior_compat"):
        nets.setdefault("default", None)
        return "default"
    if len(nets) == 1:
        return next(iter(nets))
    return "default" if "default" in nets else None


def _memberships(
    services: Mapping[str, Any], nets: Mapping[str, Any], default: str | None
) -> tuple[dict[str, list[str]], list[str]]:
    """(network key -> services joining it, services on podman's own network)."""
    users: dict[str, list[str]] = {}
    on_podman: list[str] = []
    for svc, desc in services.items():
        keys = _service_networks(desc, default)
        missing = sorted(set(keys) - set(nets))
        if missing:
            raise ComposeError(f"service {svc} uses undeclared network(s): {', '.join(missing)}")
        mode = desc.get("network_mode")
        if mode or not keys:
            if not mode or str(mode).startswith("bridge"):
                on_podman.append(svc)
            continue
        for key in keys:
            users.setdefault(key, []).append(svc)
    return users, on_podman


def _network(key: str, raw: object, users: list[str], prefix: str, sep: str) -> ComposeNetwork:
    desc = raw if isinstance(raw, dict) else {}
    external = desc.get("external")
    name = str(desc.get("name") or (key if external else f"{prefix}{sep}{key}"))
    lookup = external.get("name") if isinstance(external, dict) else None
    return ComposeNetwork(
        key=key,
        name=name,
        external=bool(external),
        services=tuple(users),
        subnets=_subnets(desc),
        lookup_name=str(lookup) if lookup and lookup != name else "",
    )


def resolve_project(
    args: ComposeArgs, environ: Environ, cwd: str, fs: FileAccess | None = None
) -> ComposeProject:
    """The project name and networks ``podman-compose ARGS up`` would use."""
    try:
        return _resolve(args, environ, cwd, fs or LocalFiles())
    except OSError as err:
        raise ComposeError(
            f"cannot read {err.filename or 'a compose file'}: {err.strerror}"
        ) from None


def _resolve(args: ComposeArgs, environ: Environ, cwd: str, fs: FileAccess) -> ComposeProject:
    project_dir = environ.get("COMPOSE_PROJECT_DIR")
    if project_dir and fs.is_dir(os.path.join(cwd, project_dir)):
        cwd = os.path.join(cwd, project_dir)
    files = compose_files(args.files, environ, cwd, fs)
    directory = fs.realpath(os.path.dirname(os.path.join(cwd, files[0])))
    env = project_environment(args.env_file, environ, cwd, directory, fs)
    env["COMPOSE_PROJECT_DIR"] = directory
    env["COMPOSE_FILE"] = (environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep).join(files)
    doc, name, source = _read_all(files, cwd, directory, fs, env, args.project_name)

    services = resolve_extends(
        _active_services(doc, env, args.profiles),
        lambda p: load_yaml(fs.read_text(os.path.join(cwd, p)), p),
        env,
    )
    settings = _x_podman(doc, env)
    nets: dict[str, Any] = {str(k): v for k, v in _mapping(doc, "networks").items()}
    nets = nets or {"default": None}
    users, on_podman = _memberships(services, nets, _default_network(nets, settings))
    sep = "-" if parse_bool(settings.get("name_separator_compat")) else "_"
    prefix = name.replace("-", "") if settings.get("default_net_name_compat") is True else name
    return ComposeProject(
        name=name,
        name_source=source,
        directory=directory,
        files=tuple(files),
        networks=tuple(
            _network(k, v, users[k], prefix, sep) for k, v in nets.items() if k in users
        ),
        on_podman_network=tuple(on_podman),
        unused=tuple(k for k in nets if k not in users and k != "default"),
    )


# --------------------------------------------------------------------------- command lines

#: podman-compose 1.6.0's global options that take a value (``--podman-<cmd>-args``
#: exist for pull, push, build, inspect, run, start, stop, rm and volume).
_VALUED = (
    "--in-pod", "--pod-args", "--env-file", "-f", "--file", "--profile", "-p",
    "--project-name", "--podman-path", "--podman-args", "--parallel",
    *(f"--podman-{c}-args" for c in
      ("pull", "push", "build", "inspect", "run", "start", "stop", "rm", "volume")),
)  # fmt: skip
_FLAGS = ("-v", "--version", "-h", "--help", "--no-ansi", "--no-cleanup", "--dry-run",
          "--verbose")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ComposeInvocation:
    """A podman-compose command line, split: naming options, subcommand, the rest."""

    args: ComposeArgs
    command: str | None
    command_args: tuple[str, ...] = ()


def _parser() -> argparse.ArgumentParser:
    # The same global options as podman-compose (argparse also accepts the same
    # unambiguous abbreviations, e.g. --project for --project-name).
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=True, exit_on_error=False)
    for opt in _FLAGS:
        parser.add_argument(opt, action="store_true", dest=opt.lstrip("-").replace("-", "_"))
    for opt in _VALUED:
        if opt in ("-f", "-p"):
            continue
        dest = opt.lstrip("-").replace("-", "_")
        short = {"--file": "-f", "--project-name": "-p"}.get(opt)
        names = (short, opt) if short else (opt,)
        parser.add_argument(*names, dest=dest, action="append", default=[])
    parser.add_argument("command", nargs="?")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def parse_compose_argv(argv: list[str]) -> ComposeInvocation:
    """Read podman-compose's global options and subcommand from its arguments."""
    try:
        ns, unknown = _parser().parse_known_args(argv)
    except (argparse.ArgumentError, ValueError) as err:
        raise ComposeError(f"podman-compose arguments: {err}") from None
    if unknown:
        raise ComposeError(f"unknown podman-compose option(s): {' '.join(unknown)}")
    env_files = ns.env_file or [".env"]
    return ComposeInvocation(
        args=ComposeArgs(
            files=tuple(ns.file),
            project_name=ns.project_name[-1] if ns.project_name else None,
            env_file=env_files[-1],
            profiles=tuple(ns.profile),
        ),
        command=None if ns.help or ns.version else ns.command,
        command_args=tuple(ns.rest),
    )
