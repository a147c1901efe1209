"""A podman API service that a test can stop and start again on the same socket."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.realpodman import PodmanHost, wait_until
from tests.realpodman.api import ping

START_TIMEOUT = 60.0


class RestartableService:
    def __init__(self, host: PodmanHost) -> None:
        self.host = host
        stem = f"api-{host.label.removeprefix(host.session.prefix)}-"
        self.directory = host.session.scratch_dir(stem)
        if host.user:
            os.chown(self.directory, host.user.uid, host.user.gid)
        self.directory.chmod(0o700)
        self.socket = self.directory / "api.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen[bytes] | None = None
        host.session.add_finalizer(self.stop)

    def start(self) -> None:
        self.socket.unlink(missing_ok=True)
        with open(self.directory / "service.log", "ab") as log:
            self.process = subprocess.Popen(
                self.host.command(["podman", "system", "service", "--time=0", self.url]),
                env=self.host.process_env(),
                cwd=self.host.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(lambda: ping(Path(self.socket)), timeout=START_TIMEOUT, what="the API service")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
