"""A private ``podman system service`` per test (no systemd socket activation here)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.realpodman.proc import HarnessError, wait_until

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def ping(socket_path: Path, timeout: float = 2.0) -> bool:
    """Whether a podman API answers ``GET /_ping`` with 200 on this unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            reply = sock.recv(256)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0] + b" "


@contextmanager
def api_service(host: PodmanHost) -> Iterator[str]:
    """Start ``podman system service --time=0`` on a fresh socket; yield its URL; stop it.

    The socket lives in the session's scratch directory (owned by the rootless user for
    a rootless host). The service is stopped on exit, and at session cleanup at the
    latest. Its log is ``service.log`` beside the socket.
    """
    directory = host.session.scratch_dir(f"api-{host.label.removeprefix(host.session.prefix)}-")
    if host.user:
        os.chown(directory, host.user.uid, host.user.gid)
    directory.chmod(0o700)
    socket_path = directory / "api.sock"
    url = f"unix://{socket_path}"
    log_path = directory / "service.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            host.command(["podman", "system", "service", "--time=0", url]),
            env=host.process_env(),
            cwd=host.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop() -> None:
        _stop(process)
        host.session.remove_finalizer(stop)
        shutil.rmtree(directory, ignore_errors=True)

    host.session.add_finalizer(stop)
    try:
        wait_until(
            lambda: _started(process, socket_path, log_path),
            timeout=START_TIMEOUT,
            what=f"podman system service on {socket_path}",
        )
        yield url
    finally:
        stop()


def _started(process: subprocess.Popen[bytes], socket_path: Path, log_path: Path) -> bool:
    if process.poll() is not None:
        raise HarnessError(
            f"podman system service exited with {process.returncode}:\n"
            f"{log_path.read_text(errors='replace')}"
        )
    return socket_path.exists() and ping(socket_path)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the service's process group (we made it a session leader), then SIGKILL."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
