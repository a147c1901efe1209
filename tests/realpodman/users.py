"""Throw-away users for rootless podman: create with subordinate ids, remove without trace."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from tests.realpodman.proc import CommandError, HarnessError, run_command, wait_until
from tests.realpodman.session import HarnessSession

SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
SUBID_COUNT = 65536
SUBID_FIRST = 100000
#: Tries of useradd/userdel while another one holds /etc/passwd (about 9 s in all).
LOCK_TRIES = 10
#: PATH a rootless command gets (runuser starts from an empty environment).
USER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class RootlessUser:
    """A user made for this session; podman runs as it through ``runuser``."""

    name: str
    uid: int
    gid: int
    home: Path
    runtime_dir: Path
    containers_conf: Path

    def environment(self) -> dict[str, str]:
        """The whole environment a podman command of this user gets."""
        return {
            "PATH": USER_PATH,
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "LANG": "C.UTF-8",
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "CONTAINERS_CONF": str(self.containers_conf),
        }

    def command(self, argv: list[str], extra_env: dict[str, str] | None = None) -> list[str]:
        """argv wrapped to run as this user with exactly ``environment()`` (+ extra_env)."""
        env = self.environment() | (extra_env or {})
        assignments = [f"{key}={value}" for key, value in env.items()]
        return ["runuser", "-u", self.name, "--", "env", "-i", *assignments, *argv]


def subid_ranges(name: str, path: Path) -> list[tuple[int, int]]:
    """(start, count) ranges that /etc/subuid-style ``path`` gives ``name``."""
    ranges: list[tuple[int, int]] = []
    if not path.exists():
        return ranges
    for line in path.read_text().splitlines():
        parts = line.split(":")
        if len(parts) == 3 and parts[0] == name and parts[1].isdigit() and parts[2].isdigit():
            ranges.append((int(parts[1]), int(parts[2])))
    return ranges


def _login_defs_number(key: str, default: int) -> int:
    """A number from /etc/login.defs (the podman 5 lane moves its ids out of the host's
    ranges there, so that neither stack's cleanup ever kills the other's processes)."""
    try:
        text = Path("/etc/login.defs").read_text()
    except OSError:
        return default
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return default


def _next_free_subid() -> int:
    end = _login_defs_number("SUB_UID_MIN", SUBID_FIRST)
    for path in SUBID_FILES:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            parts = line.split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                end = max(end, int(parts[1]) + int(parts[2]))
    return end


def create_user(session: HarnessSession) -> RootlessUser:
    """Create ``<prefix>u`` with subuid/subgid ranges, /run/user/UID and its containers.conf."""
    name = session.qualify("u")
    try:
        pwd.getpwnam(name)
    except KeyError:
        _useradd(name)
    entry = pwd.getpwnam(name)
    if not all(subid_ranges(name, path) for path in SUBID_FILES):
        first = _next_free_subid()
        last = first + SUBID_COUNT - 1
        run_command(
            [
                "usermod",
                "--add-subuids",
                f"{first}-{last}",
                "--add-subgids",
                f"{first}-{last}",
                name,
            ]
        )
    missing = [str(p) for p in SUBID_FILES if not subid_ranges(name, p)]
    if missing:
        raise HarnessError(f"user {name} has no range in {', '.join(missing)}")

    runtime_dir = Path(f"/run/user/{entry.pw_uid}")
    if runtime_dir.exists():  # left by an earlier user with this uid: not ours to keep
        shutil.rmtree(runtime_dir)
    runtime_dir.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    runtime_dir.mkdir(mode=0o700)
    os.chown(runtime_dir, entry.pw_uid, entry.pw_gid)

    conf_dir = session.workdir / f"user-{name}"
    conf_dir.mkdir(mode=0o700, exist_ok=True)
    conf = conf_dir / "containers.conf"
    shutil.copyfile(session.containers_conf, conf)
    for path in (conf_dir, conf):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return RootlessUser(
        name=name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        home=Path(entry.pw_dir),
        runtime_dir=runtime_dir,
        containers_conf=conf,
    )


def _useradd(name: str) -> None:
    # /etc/passwd is locked while another useradd/userdel runs: retry a few times.
    for attempt in range(LOCK_TRIES):
        try:
            run_command(
                [
                    "useradd",
                    "--create-home",
                    "--shell",
                    "/bin/sh",
                    "--comment",
                    "aardcheck test (throw-away)",
                    name,
                ],
                timeout=30,
            )
            return
        except CommandError as err:
            # 1: cannot update /etc/passwd, 10: cannot update /etc/group (both: locked)
            if err.returncode not in (1, 10) or attempt == LOCK_TRIES - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def users_with_prefix(prefix: str) -> list[str]:
    """Names of existing users whose name starts with ``prefix``."""
    return sorted(entry.pw_name for entry in pwd.getpwall() if entry.pw_name.startswith(prefix))


def remove_user(name: str) -> list[str]:
    """Kill every process of ``name`` (and of its subordinate ids), delete it and its files.

    Returns the problems met (empty when everything went). Removes the home directory
    (with the user's podman store), /run/user/UID, /dev/shm and /tmp entries it owned,
    and its /etc/subuid and /etc/subgid lines.
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return []
    uid = entry.pw_uid
    if uid < 1000 or uid == os.getuid():
        return [f"refusing to remove {name}: uid {uid} is not a throw-away user's"]
    problems: list[str] = []
    owned = _id_ranges(name, uid)
    try:
        _kill_processes(owned)
    except HarnessError as err:
        problems.append(str(err))
    for attempt in range(LOCK_TRIES):
        proc = run_command(["userdel", "--remove", name], check=False, timeout=60)
        # 0 ok, 6 no such user, 12 home not removed (done below); 1 and 10: /etc/passwd
        # or /etc/group locked by another useradd/userdel; 8: a process still runs
        if proc.returncode in (0, 6, 12):
            break
        if attempt == LOCK_TRIES - 1:
            problems.append(f"userdel {name}: exit {proc.returncode}: {proc.stderr.strip()}")
        else:
            _kill_processes(owned)
            time.sleep(0.2 * (attempt + 1))
    for path in (Path(entry.pw_dir), Path(f"/run/user/{uid}")):
        if path.exists() and path != Path("/"):
            shutil.rmtree(path, ignore_errors=True)
    for directory in (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")):
        _remove_owned_entries(directory, uid)
    for subid_file in SUBID_FILES:
        if subid_ranges(name, subid_file):
            problems.append(f"{subid_file} still lists {name}")
    return problems


def _id_ranges(name: str, uid: int) -> list[range]:
    ranges = [range(uid, uid + 1)]
    ranges.extend(
        range(start, start + count) for start, count in subid_ranges(name, SUBID_FILES[0])
    )
    return ranges


def _process_uid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


def _processes_of(ranges: list[range]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        uid = _process_uid(int(entry.name))
        if uid is not None and any(uid in r for r in ranges):
            pids.append(int(entry.name))
    return pids


def _kill_processes(ranges: list[range]) -> None:
    """SIGKILL, one pid at a time, every process running as the user or its sub-ids."""

    def all_gone() -> bool:
        for pid in _processes_of(ranges):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return not [pid for pid in _processes_of(ranges) if not _is_zombie(pid)]

    wait_until(all_gone, timeout=20, what="the test user's processes to exit")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].startswith("Z")


def _remove_owned_entries(directory: Path, uid: int) -> None:
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        try:
            if entry.lstat().st_uid != uid:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            continue
