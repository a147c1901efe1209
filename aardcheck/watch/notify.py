"""systemd's notify protocol: ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=...``.

Hand-written on purpose: the protocol is one datagram to the AF_UNIX socket named in
``NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace), and the alternatives
are a C extension (python-systemd, not installable from PyPI without libsystemd headers)
or a dependency for ten lines. Without ``NOTIFY_SOCKET`` every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

NOTIFY_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class SystemdNotifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        """Reads ``NOTIFY_SOCKET`` and ``WATCHDOG_*`` from ``environ`` (default: this
        process's environment, which then loses them, like sd_notify's
        ``unset_environment``: a child such as a private ``podman system service`` would
        otherwise announce itself to systemd as the service's main process)."""
        env = dict(os.environ if environ is None else environ)
        if environ is None:
            for name in NOTIFY_VARIABLES:
                os.environ.pop(name, None)
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval = _watchdog_interval(env)
        self._next_ping = 0.0  # the first ping is due at once
        self.last_sent = ""
        self.sent_count = 0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, state: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(state.encode(), self.address)
        except OSError:
            return False  # systemd went away: nothing useful to do about it
        self.last_sent = state
        self.sent_count += 1
        return True

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def next_ping_at(self) -> float | None:
        """When the next ``WATCHDOG=1`` is due (monotonic), None without a watchdog."""
        return self._next_ping if self.enabled and self.watchdog_interval else None

    def ping_if_due(self, now: float | None = None) -> None:
        if not self.enabled or not self.watchdog_interval:
            return
        now = time.monotonic() if now is None else now
        if now >= self._next_ping:
            self.notify("WATCHDOG=1")
            self._next_ping = now + self.watchdog_interval


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of ``WATCHDOG_USEC`` (systemd's advice), if the watchdog is meant for us."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000
