"""A private ``podman system service`` on a temporary socket, for one run or one watcher.

Started when nothing listens at the usual socket (hosts without systemd's socket
activation); it listens after 30-40 ms here and exits by itself when idle.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from aardcheck.errors import EnvironmentUnavailable

#: How long a private API service may take to come up (podman cold start ~0.3 s here).
SERVICE_START_TIMEOUT = 15.0
#: The private service exits by itself after this much idle time, even if we are killed.
SERVICE_IDLE_EXIT = 120
#: Variables that would turn the private service into a remote client (CONTAINER_HOST
#: pointing at a dead socket is why we start it), or make it talk to systemd as if it
#: were the unit's main process.
_SERVICE_ENV_DROP = (
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "CONTAINER_SSHKEY",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
)


def start_private_service(timeout: float) -> tuple[subprocess.Popen[bytes], str, Path]:
    podman = shutil.which("podman")
    if podman is None:
        raise EnvironmentUnavailable("podman is not installed (no `podman` on PATH)")
    tmp = Path(tempfile.mkdtemp(prefix="aardcheck-api-"))
    sock = tmp / "podman.sock"
    url = f"unix://{sock}"
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV_DROP}
    proc = subprocess.Popen(
        [podman, "system", "service", f"--time={SERVICE_IDLE_EXIT}", url],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a Ctrl-C at the terminal must not kill it before we clean up
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.exists():
            return proc, url, tmp
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
            shutil.rmtree(tmp, ignore_errors=True)
            last = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
            raise EnvironmentUnavailable(f"could not start `podman system service`: {last}")
        time.sleep(0.02)
    stop_private_service(proc, tmp)
    raise EnvironmentUnavailable(f"`podman system service` did not listen within {timeout:.0f} s")


def stop_private_service(proc: subprocess.Popen[bytes], tmp: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    if proc.stderr:
        proc.stderr.close()
    shutil.rmtree(tmp, ignore_errors=True)
