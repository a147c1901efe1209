"""The environment side of podman-compose 1.6.0, re-stated: ``.env`` files, variable
interpolation in compose values, and merging several compose files.

Pure functions over plain data; ``aardcheck.compose.project`` uses them to name a project's
networks exactly as ``podman-compose up`` will. Each rule below was read from
podman-compose 1.6.0's source and is described here in our own words.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from typing import Any, Protocol

Environ = Mapping[str, str | None]

_NAME_START = frozenset(string.ascii_letters + "_")
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")
#: Operators of ``${NAME<op>operand}``, longest first so ``:-`` wins over ``-``.
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A ``${...}`` that podman-compose would refuse (bad syntax or a required variable)."""


# --------------------------------------------------------------------------- interpolation


def _name_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    return end


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise InterpolationError(f"no closing brace in {text!r}")


def _resolve_brace(content: str, env: Environ) -> str:
    if not content or content[0] not in _NAME_START:
        raise InterpolationError(f"invalid interpolation format: ${{{content}}}")
    end = _name_end(content, 0)
    name, rest = content[:end], content[end:]
    value = env.get(name)
    if not rest:
        return value if value is not None else ""
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise InterpolationError(f"invalid interpolation syntax: ${{{content}}}")
    operand = rest[len(op) :]
    empty = value is None or value == ""
    if op in (":?", "?"):
        if (op == ":?" and empty) or (op == "?" and value is None):
            why = interpolate(operand, env) if operand else ""
            raise InterpolationError(f"required variable {name} is missing a value: {why}")
        return value or ""
    if op == ":-":
        return interpolate(operand, env) if empty else str(value)
    if op == "-":
        return interpolate(operand, env) if value is None else value
    if op == ":+":
        return "" if empty else interpolate(operand, env)
    return "" if value is None else interpolate(operand, env)  # "+"


def interpolate(text: str, env: Environ) -> str:
    """Expand ``$NAME``, ``${NAME}``, ``${NAME:-default}`` (and ``-``, ``:?``, ``?``,
    ``:+``, ``+``) and ``$$`` the way podman-compose does. A ``$`` not followed by a name,
    a brace or another ``$`` stays literal; an unset variable expands to nothing."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 >= len(text):
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "{":
            close = _closing_brace(text, i + 2)
            out.append(_resolve_brace(text[i + 2 : close], env))
            i = close + 1
        elif nxt == "$":
            out.append("$")
            i += 2
        elif nxt in _NAME_START:
            end = _name_end(text, i + 1)
            value = env.get(text[i + 1 : end])
            out.append(value if value is not None else "")
            i = end
        else:
            out.append("$")
            i += 1
    return "".join(out)


def as_dict(value: Any) -> dict[str, Any]:
    """A ``KEY=VALUE`` list (``KEY`` alone maps to None), or a mapping, as a dict."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        pairs = [str(item).split("=", 1) for item in value if item]
        return {p[0]: (p[1] if len(p) == 2 else None) for p in pairs}
    text = str(value)
    key, _, rest = text.partition("=")
    return {key: rest if "=" in text else None}


def substitute(value: Any, env: Environ) -> Any:
    """Interpolate every string in a compose document, keys included.

    Inside a mapping that has an ``environment`` mapping (a service), the variables it
    defines that the environment lacks are visible to the rest of that mapping.
    """
    if isinstance(value, dict):
        own = value.get("environment")
        if isinstance(own, dict):
            extra = {k: v for k, v in own.items() if k not in env}
            env = {**env, **substitute(extra, env)}
        return {substitute(k, env): substitute(v, env) for k, v in value.items()}
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list | tuple):
        return [substitute(v, env) for v in value]
    return value


# --------------------------------------------------------------------------- .env files

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(=\s*(.*))?$")
_DOTENV_VAR = re.compile(r"\$\{([^}:]*)(?::-([^}]*))?\}")


def _dotenv_value(raw: str) -> tuple[str, bool]:
    """(value, expand) of the right-hand side of a ``.env`` line."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        while quote == '"' and end > 0 and raw[end - 1] == "\\":
            end = raw.find(quote, end + 1)
        body = raw[1:end] if end > 0 else raw[1:]
        if quote == "'":
            return body, False
        escapes = {"\\n": "\n", "\\t": "\t", '\\"': '"', "\\\\": "\\"}
        return re.sub(r"\\[nt\"\\]", lambda m: escapes[m.group(0)], body), True
    comment = re.search(r"\s#", raw)
    return (raw[: comment.start()] if comment else raw).rstrip(), True


def parse_dotenv(text: str, environ: Environ) -> dict[str, str | None]:
    """A ``.env`` file as python-dotenv reads it for podman-compose: ``[export ]KEY=VALUE``
    lines, ``#`` comments, single quotes literal, double quotes with escapes, and
    ``${VAR}`` / ``${VAR:-default}`` expanded from earlier lines, then the environment.
    A bare ``KEY`` line gives KEY with no value (None)."""
    values: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            continue
        key = match.group(1)
        if match.group(2) is None:
            values[key] = None
            continue
        value, expand = _dotenv_value(match.group(3))
        if expand:
            scope = {**environ, **values}

            def _var(m: re.Match[str], scope: Environ = scope) -> str:
                found = scope.get(m.group(1))
                return found if found else (m.group(2) or "")

            value = _DOTENV_VAR.sub(_var, value)
        values[key] = value
    return values


class _Files(Protocol):
    def read_text(self, path: str) -> str: ...
    def is_file(self, path: str) -> bool: ...
    def realpath(self, path: str) -> str: ...


def project_environment(
    env_file: str, environ: Environ, cwd: str, directory: str, fs: _Files
) -> dict[str, str | None]:
    """The variables podman-compose interpolates with (before COMPOSE_PROJECT_NAME)."""
    dotenv: dict[str, str | None] = {}
    if env_file:
        candidates = [os.path.join(directory, ".env")] if env_file == ".env" else []
        candidates.append(fs.realpath(os.path.join(cwd, env_file)))
        for path in candidates:
            if fs.is_file(path):
                dotenv.update(parse_dotenv(fs.read_text(path), environ))
    merged: dict[str, str | None] = {**dotenv, **environ}
    merged.update({k: v for k, v in dotenv.items() if k.startswith("PODMAN_")})
    return merged
