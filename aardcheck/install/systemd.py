"""``aardcheck systemd install``: copy the unit files to where systemd looks for them.

The real unit files live in the repository's top-level ``systemd/`` directory; the
package ships an identical copy in ``aardcheck/install/units/`` (a test keeps the two
byte-for-byte equal), which is what an installed aardcheck reads. Layout of both::

    system/  units for the system manager (rootful podman)
    user/    units for a user manager (rootless podman), and the drop-in
             podman-compose@.service.d/aardcheck-preflight.conf

The files name the programs as ``/usr/local/bin/aardcheck`` and
``/usr/local/bin/podman-compose``; installing writes the paths found on this host
instead (systemd needs an absolute path that exists). Nothing here talks to systemd:
the ``systemctl`` commands to run are returned as text.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aardcheck.errors import EnvironmentUnavailable, UsageError

DEFAULT_AARDCHECK = "/usr/local/bin/aardcheck"
DEFAULT_PODMAN_COMPOSE = "/usr/local/bin/podman-compose"
DROP_IN_DIR = "podman-compose@.service.d"
#: Where a system-wide drop-in for every user's podman-compose@ units goes.
GLOBAL_USER_UNIT_DIR = Path("/etc/systemd/user")
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def units_root() -> Path:
    """The unit files shipped with the package."""
    return Path(str(resources.files("aardcheck.install") / "units"))


def _units(root: Path, scope: str) -> Iterator[Path]:
    base = root / scope
    if not base.is_dir():
        raise EnvironmentUnavailable(f"unit files missing: {base} (broken installation?)")
    yield from sorted(p for p in base.rglob("*") if p.is_file())


def user_unit_dir(home: Path | None = None) -> Path:
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config else (home or Path.home()) / ".config"
    return base / "systemd" / "user"


@dataclass(frozen=True, slots=True)
class UnitCopy:
    source: Path
    target: Path
    content: str
    #: "new", "replaced" or "unchanged" (what the target held before)
    status: str


@dataclass(frozen=True, slots=True)
class InstallPlan:
    user: bool
    copies: tuple[UnitCopy, ...]
    aardcheck: str
    podman_compose: str
    warnings: tuple[str, ...] = ()

    @property
    def commands(self) -> tuple[str, ...]:
        ctl = "systemctl --user" if self.user else "systemctl"
        cmds = [
            f"{ctl} daemon-reload",
            f"{ctl} enable --now aardcheck-watch.service",
            f"{ctl} enable --now aardcheck-clean.timer",
        ]
        if self.user:
            cmds.append(f"loginctl enable-linger {_user_name()}")
        return tuple(cmds)


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def find_program(name: str, default: str) -> tuple[str, str]:
    """(absolute path for ExecStart, warning or ""): on PATH, else beside this Python."""
    found = shutil.which(name)
    if found is None:
        sibling = Path(sys.executable).parent / name
        found = str(sibling) if os.access(sibling, os.X_OK) else None
    if found is None:
        return default, f"{name} not found on PATH; the units name {default}"
    path = Path(found).absolute()
    if name == "podman-compose":
        path = path.resolve()  # podman-compose's own unit names its real path
    return str(path), ""


def _with_paths(text: str, aardcheck: str, podman_compose: str) -> str:
    return text.replace(DEFAULT_AARDCHECK, aardcheck).replace(
        DEFAULT_PODMAN_COMPOSE, podman_compose
    )


def _prefixed(prefix: Path | None, target: Path) -> Path:
    return prefix / target.relative_to(target.anchor) if prefix else target


def plan_install(
    *,
    user: bool,
    prefix: Path | None = None,
    aardcheck: str | None = None,
    podman_compose: str | None = None,
    root: Path | None = None,
) -> InstallPlan:
    """Which file goes where, with which content. Reads the targets, writes nothing."""
    root = root or units_root()
    warnings: list[str] = []
    if aardcheck is None:
        aardcheck, warning = find_program("aardcheck", DEFAULT_AARDCHECK)
        warnings += [warning] if warning else []
    if podman_compose is None:
        podman_compose, warning = find_program("podman-compose", DEFAULT_PODMAN_COMPOSE)
        warnings += [warning] if warning else []
    for name, path in (("--aardcheck", aardcheck), ("--podman-compose", podman_compose)):
        if not os.path.isabs(path):
            raise UsageError(f"{name} must be an absolute path: {path}")
    user_dir = user_unit_dir()
    copies: list[UnitCopy] = []
    for scope in ("user",) if user else ("system", "user"):
        for source in _units(root, scope):
            rel = source.relative_to(root / scope)
            if scope == "user" and not user and rel.parts[0] != DROP_IN_DIR:
                continue  # --system installs only the drop-in of the user units
            base = (
                user_dir
                if user
                else (SYSTEM_UNIT_DIR if scope == "system" else GLOBAL_USER_UNIT_DIR)
            )
            target = _prefixed(prefix, base / rel)
            content = _with_paths(source.read_text(), aardcheck, podman_compose)
            try:
                old: str | None = target.read_text()
            except FileNotFoundError:
                old = None
            except OSError as err:
                raise EnvironmentUnavailable(f"cannot read {target}: {err.strerror}") from err
            status = "new" if old is None else ("unchanged" if old == content else "replaced")
            copies.append(UnitCopy(source, target, content, status))
    return InstallPlan(user, tuple(copies), aardcheck, podman_compose, tuple(warnings))


def apply_install(plan: InstallPlan) -> None:
    """Write every changed unit file (via a temporary file and rename, mode 0644)."""
    for copy in plan.copies:
        if copy.status == "unchanged":
            continue
        try:
            copy.target.parent.mkdir(parents=True, exist_ok=True)
            tmp = copy.target.with_name(f".{copy.target.name}.aardcheck-tmp")
            tmp.write_text(copy.content)
            tmp.chmod(0o644)
            os.replace(tmp, copy.target)
        except OSError as err:
            raise EnvironmentUnavailable(
                f"cannot write {copy.target}: {err.strerror} (run as root for --system)"
            ) from err


def render(plan: InstallPlan, *, dry_run: bool) -> str:
    verb = "would install" if dry_run else "installed"
    scope = "user" if plan.user else "system"
    out = [f"aardcheck systemd install ({scope}): ExecStart uses {plan.aardcheck}"]
    out += [f"warning: {w}" for w in plan.warnings]
    for c in plan.copies:
        state = "unchanged" if c.status == "unchanged" else f"{verb} ({c.status})"
        out.append(f"  {c.target}  [{state}]")
    out.append("then run:" if not dry_run else "then you would run:")
    out += [f"  {cmd}" for cmd in plan.commands]
    drop_in = next((c.target for c in plan.copies if DROP_IN_DIR in c.target.parts), None)
    if drop_in is not None:
        out.append(
            f"podman-compose@PROJECT units now run `aardcheck preflight --fix -p PROJECT` "
            f"first ({drop_in}); users reload with `systemctl --user daemon-reload`"
        )
    return "\n".join(out) + "\n"
