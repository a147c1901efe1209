"""A throw-away host for fault tests: a run directory, a fake podman API and binary.

Most faults are about files and the API, and need no real podman: aardcheck runs as a
real subprocess with ``--run-dir`` pointing at a directory built here and ``--url`` at a
:mod:`tests.faults.fake_api` server. A fake ``podman`` binary first on PATH records every
argv it gets (``podman network reload ID`` from a repair) and never runs a shell.

``tree_state`` records everything under a directory without following symlinks, so a
test can assert that nothing changed that should not have.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.faults.fake_api import (
    Attachment,
    FakeContainer,
    FakePodman,
    hex_id,
    info_json,
    network_json,
    serve,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT = 90.0

NET = "fnet"
SUBNET = "10.99.7.0/24"
GATEWAY = "10.99.7.1"
WEB = FakeContainer(
    hex_id("web"), "web", "running", (Attachment(NET, "10.99.7.2", ("app",), GATEWAY),)
)
OLD = FakeContainer(
    hex_id("old"), "old", "exited", (Attachment(NET, "10.99.7.3", ("app",), GATEWAY),)
)
#: The network file as netavark writes it: a live line and the line of a stopped container.
WEB_LINE = f"{WEB.id} 10.99.7.2  web,app,{WEB.id[:12]}\n".encode()
OLD_LINE = f"{OLD.id} 10.99.7.3  old,app,{OLD.id[:12]}\n".encode()
NET_FILE = f"{GATEWAY}\n".encode() + WEB_LINE + OLD_LINE

FAKE_PODMAN = """#!{python}
import json, os, sys
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:3] == ["system", "service"]:
    sys.stderr.write("fake podman: no service here\\n")
    sys.exit(125)
sys.stderr.write(os.environ.get("FAKE_PODMAN_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_PODMAN_EXIT", "0")))
"""


@dataclass(frozen=True)
class Sandbox:
    root: Path

    @property
    def run_dir(self) -> Path:
        """netavark's run directory (``--run-dir``): holds the lock and aardvark-dns/."""
        return self.root / "run" / "networks"

    @property
    def dns_dir(self) -> Path:
        return self.run_dir / "aardvark-dns"

    @property
    def graph_root(self) -> Path:
        return self.root / "graph"

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def podman_log(self) -> Path:
        return self.root / "podman-argv.jsonl"

    @property
    def socket_path(self) -> Path:
        return self.root / "api.sock"

    def write(self, name: str | bytes, content: bytes, mode: int = 0o644) -> Path:
        """Write one entry of aardvark-dns/ (a bytes name may be non-UTF-8)."""
        raw = os.path.join(os.fsencode(self.dns_dir), os.fsencode(name))
        with open(raw, "wb") as fh:
            fh.write(content)
        os.chmod(raw, mode)
        return Path(os.fsdecode(raw))

    def fake(self, *containers: FakeContainer) -> FakePodman:
        """The fake API of this host: network ``fnet``, and ``containers`` (default web, old)."""
        return FakePodman(
            info=info_json(run_root=self.root / "run", graph_root=self.graph_root),
            containers=list(containers or (WEB, OLD)),
            networks=[network_json(NET, SUBNET, GATEWAY)],
        )

    @contextmanager
    def api(self, fake: FakePodman) -> Iterator[str]:
        with serve(fake, self.socket_path) as url:
            yield url

    def state(self, *, skip: frozenset[str] = frozenset()) -> dict[bytes, tuple[Any, ...]]:
        """What aardcheck may touch: the run directory and podman's graph root."""
        return tree_state(self.root / "run", skip=skip) | {
            b"graph/" + k: v for k, v in tree_state(self.graph_root, skip=skip).items()
        }

    def podman_calls(self) -> list[list[str]]:
        """Every argv the fake ``podman`` binary was run with."""
        if not self.podman_log.exists():
            return []
        return [json.loads(line) for line in self.podman_log.read_text().splitlines()]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION", "CONTAINERS_CONF")
        }
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONPATH"] = str(REPO_ROOT)
        return env | dict(extra or {})

    def run(
        self,
        *args: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        full_env: Mapping[str, str] | None = None,
        timeout: float = CLI_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """``python -m aardcheck ARGS`` in a subprocess; never raises on its exit code."""
        return subprocess.run(
            [sys.executable, "-m", "aardcheck", *(os.fspath(a) for a in args)],
            env=dict(full_env) if full_env is not None else self.env(env),
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def make_sandbox(root: Path, net_file: bytes | None = NET_FILE) -> Sandbox:
    """A sandbox with aardvark-dns/fnet (unless ``net_file`` is None) and a fake podman."""
    box = Sandbox(root)
    box.dns_dir.mkdir(parents=True)
    (box.graph_root / "networks").mkdir(parents=True)
    (box.graph_root / "networks" / f"{NET}.json").write_text("{}")
    box.bin_dir.mkdir()
    podman = box.bin_dir / "podman"
    podman.write_text(FAKE_PODMAN.format(python=sys.executable, log=str(box.podman_log)))
    podman.chmod(0o755)
    if net_file is not None:
        box.write(NET, net_file)
    return box


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single ``aardcheck: error: ...`` line on stderr (asserts there is exactly one)."""
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("aardcheck: error: ")]
    assert len(errors) == 1 and len(lines) == 1, f"want one error line, got:\n{proc.stderr}"
    return errors[0]


def _digest(path: bytes) -> str:
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


def tree_state(top: Path, *, skip: frozenset[str] = frozenset()) -> dict[bytes, tuple[Any, ...]]:
    """Every entry under ``top`` (symlinks not followed): type, mode, owner, content.

    ``skip`` names entries (file names) to leave out, e.g. the lock files a fix creates.
    """
    found: dict[bytes, tuple[Any, ...]] = {}
    for folder, dirs, files in os.walk(os.fsencode(top)):
        for name in [*dirs, *files]:
            if os.fsdecode(name) in skip:
                continue
            path = os.path.join(folder, name)
            st = os.lstat(path)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                what: Any = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                what = ("file", st.st_size, _digest(path))
            else:
                what = ("other", stat.S_IFMT(st.st_mode))
            found[os.path.relpath(path, os.fsencode(top))] = (what, mode, st.st_uid, st.st_gid)
    return found
