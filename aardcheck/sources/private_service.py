"""A private ``podman system service`` on a temporary socket, for one run or one watcher.

Started when nothing listens at the usual socket (hosts without systemd's socket
activation); it listens after 30-40 ms here and exits by itself when idle. A one-shot
command may start it before its own imports (``prestart``), so that podman's start-up and
Python's overlap; ``sources.podman_api.connect`` then takes that one.
"""

from __future__ import annotations

import atexit
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


Started = tuple[subprocess.Popen[bytes], str, Path]

#: the service ``prestart`` started and nobody took yet (at most one)
_prestarted: list[Started] = []


def default_socket_url() -> str:
    """Where podman's API listens by default for this user (podman-py guesses wrong for root)."""
    if env := os.environ.get("CONTAINER_HOST"):
        return env
    if os.geteuid() == 0:
        return "unix:///run/podman/podman.sock"
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix://{runtime_dir}/podman/podman.sock"


def prestart() -> str | None:
    """Start the private service now when the default socket file does not exist, the
    one case in which ``connect`` would start one anyway; not taken by the end of the
    run, it is stopped at exit. Any failure is left for ``connect`` to report.

    Returns the unix socket a check will ask first: the default one, or the private
    service's (which may not listen yet); None for a URL that is not a unix socket."""
    url = default_socket_url()
    if not url.startswith("unix://"):
        return None
    path = url.removeprefix("unix://")
    if _prestarted:
        return _prestarted[0][1].removeprefix("unix://")
    if os.path.lexists(path):
        return path  # a socket (live or not) is there: connect asks it first
    try:
        _prestarted.append(_spawn())
    except (EnvironmentUnavailable, OSError):
        return None
    atexit.register(_stop_prestarted)
    return _prestarted[0][1].removeprefix("unix://")


def take_prestarted(timeout: float) -> Started | None:
    """The service ``prestart`` started, once it listens (None: there is none)."""
    if not _prestarted:
        return None
    started = _prestarted.pop()
    proc, _url, tmp = started
    _wait_listening(proc, tmp, timeout)
    return started


def _stop_prestarted() -> None:
    while _prestarted:
        proc, _url, tmp = _prestarted.pop()
        stop_private_service(proc, tmp)


def start_private_service(timeout: float) -> Started:
    started = _spawn()
    _wait_listening(started[0], started[2], timeout)
    return started


def _spawn() -> Started:
    podman = shutil.which("podman")
    if podman is None:
        raise EnvironmentUnavailable("podman is not installed (no `podman` on PATH)")
    tmp = Path(tempfile.mkdtemp(prefix="aardcheck-api-"))
    url = f"unix://{tmp / 'podman.sock'}"
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV_DROP}
    try:
        proc = subprocess.Popen(
            [podman, "system", "service", f"--time={SERVICE_IDLE_EXIT}", url],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C at the terminal must not kill it first
        )
    except OSError as err:  # podman on PATH but not runnable (format, permission)
        shutil.rmtree(tmp, ignore_errors=True)
        raise EnvironmentUnavailable(f"could not start `{podman} system service`: {err}") from None
    return proc, url, tmp


def _wait_listening(proc: subprocess.Popen[bytes], tmp: Path, timeout: float) -> None:
    sock = tmp / "podman.sock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.exists():
            return
        if proc.poll() is not None:
            err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace").strip()
            shutil.rmtree(tmp, ignore_errors=True)
            last = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
            raise EnvironmentUnavailable(f"could not start `podman system service`: {last}")
        time.sleep(0.005)  # cheap; a coarser poll adds half its period to every wait
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
