"""Reading compose files as podman-compose 1.6.0 does: which files, YAML with its
``!reset``/``!override`` tags, merging several files, ``extends``.

File access goes through a ``FileAccess`` passed in, so the rules are tested with
literal data; ``LocalFiles`` is the real file system.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any, Protocol

import yaml

from aardcheck.compose.env import Environ, as_dict, substitute
from aardcheck.errors import UsageError

DEFAULT_FILES = (
    "compose.yaml",
    "compose.yml",
    "compose.override.yaml",
    "compose.override.yml",
    "podman-compose.yaml",
    "podman-compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
    "container-compose.yml",
    "container-compose.yaml",
    "container-compose.override.yml",
    "container-compose.override.yaml",
)


class ComposeError(UsageError):
    """The compose files cannot be read the way podman-compose would (exit code 2)."""


class FileAccess(Protocol):
    def read_text(self, path: str) -> str: ...
    def exists(self, path: str) -> bool: ...
    def is_file(self, path: str) -> bool: ...
    def is_dir(self, path: str) -> bool: ...
    def realpath(self, path: str) -> str: ...


class LocalFiles:
    """The real file system."""

    def read_text(self, path: str) -> str:
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def is_file(self, path: str) -> bool:
        return os.path.isfile(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)


class Reset:
    """The ``!reset`` tag: drop this key from what earlier files said."""


class Override:
    """The ``!override`` tag: replace what earlier files said instead of merging."""

    def __init__(self, value: Any) -> None:
        self.value = value


class MergeError(ValueError):
    """Two files give one key values of different types."""


def _clone(value: Any) -> Any:
    return value.copy() if isinstance(value, list | dict) else value


def _merge_lists(key: str, value: list[Any], later: list[Any]) -> None:
    if key == "volumes":  # a later mount of the same target replaces the earlier one
        targets = {v.split(":", 2)[1] for v in later if isinstance(v, str) and ":" in v}
        value[:] = [
            v
            for v in value
            if not (isinstance(v, str) and ":" in v and v.split(":", 2)[1] in targets)
        ]
    value.extend(later)


def _merge_key(target: dict[str, Any], key: str, earlier: Any, later: Any) -> bool:
    """Merge one key present on both sides; False when the key is to be removed."""
    if isinstance(earlier, Reset) or isinstance(later, Reset):
        return False
    if isinstance(earlier, Override) or isinstance(later, Override):
        chosen = earlier if isinstance(earlier, Override) else later
        target[key] = _clone(chosen.value)
    elif key in ("command", "entrypoint"):
        target[key] = _clone(later)
    else:
        if earlier is None and isinstance(later, dict):
            target[key] = earlier = {}
        if not isinstance(later, type(earlier)):
            raise MergeError(
                f"cannot merge [{key}]: {type(earlier).__name__} and {type(later).__name__}"
            )
        if isinstance(later, list):
            _merge_lists(key, earlier, later)
        elif isinstance(later, dict):
            merge_into(earlier, later)
        else:
            target[key] = later
    return True


def merge_into(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Merge a later compose file into what the earlier ones gave, as podman-compose does:
    mappings merge key by key, lists are appended (``volumes`` drops earlier entries
    with the same target), ``command``/``entrypoint`` and scalars are replaced,
    ``!reset`` removes and ``!override`` replaces."""
    added = set()
    remove = set()
    for key, value in source.items():
        if key not in target:
            target[key] = _clone(value)
            added.add(key)
    for key, value in list(target.items()):
        if key in added:
            continue
        if key in source:
            if not _merge_key(target, key, value, source[key]):
                remove.add(key)
        elif isinstance(value, Reset):
            remove.add(key)
        elif isinstance(value, Override):
            target[key] = _clone(value.value)
    for key in remove:
        del target[key]
    return target


def unwrap_tags(value: Any) -> Any:
    """Tags left where no earlier file had the key: ``!override`` is the plain value,
    ``!reset`` drops the key."""
    if isinstance(value, Override):
        return unwrap_tags(value.value)
    if isinstance(value, dict):
        return {k: unwrap_tags(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [unwrap_tags(v) for v in value if not isinstance(v, Reset)]
    return value


class _Loader(yaml.SafeLoader):
    """yaml.SafeLoader plus podman-compose's ``!reset`` and ``!override`` tags."""


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("!reset", _reset)
_Loader.add_constructor("!override", _override)


def load_yaml(text: str, path: str) -> dict[str, Any]:
    try:
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as err:
        raise ComposeError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise ComposeError(f"{path}: the compose file has no top-level mapping")
    return doc


def compose_files(given: tuple[str, ...], environ: Environ, cwd: str, fs: FileAccess) -> list[str]:
    """The compose files podman-compose reads, as given (relative to ``cwd``)."""
    if given:
        files = list(given)
        if "-" in files:
            raise ComposeError("a compose file on standard input (-f -) cannot be pre-checked")
        missing = [f for f in files if not fs.exists(os.path.join(cwd, f))]
        if missing:
            raise ComposeError(f"missing compose file(s): {', '.join(missing)}")
        return files
    listed = environ.get("COMPOSE_FILE")
    sep = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
    candidates = listed.split(sep) if listed else list(DEFAULT_FILES)
    files = [f for f in candidates if fs.exists(os.path.join(cwd, f))]
    if not files:
        raise ComposeError(
            f"no compose file in {cwd} (compose.yaml, docker-compose.yml, ...): pass -f FILE"
        )
    return files


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    for service in (doc.get("services") or {}).values():
        if isinstance(service, dict):
            if "environment" in service:
                service["environment"] = as_dict(service["environment"])
            if isinstance(service.get("extends"), str):
                service["extends"] = {"service": service["extends"]}
    return doc


def anchor_extends(doc: dict[str, Any], base: str) -> None:
    for service in (doc.get("services") or {}).values():
        ext = service.get("extends") if isinstance(service, dict) else None
        if isinstance(ext, dict) and isinstance(ext.get("file"), str):
            ext["file"] = os.path.join(base, ext["file"])


def resolve_extends(
    services: dict[str, Any], load: Callable[[str], dict[str, Any]], env: Environ
) -> dict[str, Any]:
    """Each service merged over the one it ``extends`` (same file or ``file:``)."""
    done: dict[str, dict[str, Any]] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> dict[str, Any]:
        if name in done:
            return done[name]
        if name in seen:
            raise ComposeError(f"services extend each other in a loop: {' -> '.join(seen)}")
        raw = services.get(name)
        service: dict[str, Any] = raw if isinstance(raw, dict) else {}
        ext = service.get("extends")
        if not isinstance(ext, dict) or not ext.get("service"):
            done[name] = service
            return service
        base_name = str(ext["service"])
        if ext.get("file"):
            other = load(str(ext["file"]))
            pool = other.get("services", other) or {}
            found = pool.get(base_name) if isinstance(pool, dict) else None
            base = substitute(found if isinstance(found, dict) else {}, env)
        elif base_name in services:
            base = resolve(base_name, (*seen, name))
        else:
            raise ComposeError(f"{base_name} not found at services.{name}.extends")
        merged = copy.deepcopy({k: v for k, v in base.items() if k != "extends"})
        done[name] = merge_into(merged, {k: v for k, v in service.items() if k != "extends"})
        return done[name]

    return {name: resolve(name, ()) for name in services}
