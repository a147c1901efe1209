"""Ask a running ``aardcheck watch`` for its answer before computing one (the warm path).

The watcher of this user listens on ``answer_socket_path()`` (owner-only, in aardcheck's
run directory). ``check``, ``preflight`` and ``clean`` send it their argv, working
directory and environment; it parses them with the same command definitions and answers
from its current state what the command would have printed, or declines. Anything but a
prompt answer - no socket, someone else's socket, a decline, no reply within
``ANSWER_TIMEOUT`` - means "compute it cold", so this module never raises.

Stdlib only, and imported before anything else of aardcheck: an answered command must
cost little more than starting Python (the warm target is half of ``podman ps``).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

#: A watcher that has not answered within this long is skipped (issue 12).
ANSWER_TIMEOUT = 0.05
SOCKET_NAME = "watch.sock"
#: Commands a watcher can answer; options that force the cold path.
SERVED_COMMANDS = frozenset({"check", "preflight", "clean"})
COLD_OPTIONS = frozenset({"--no-watcher", "--help", "-h"})
PROTOCOL = 1


def answer_socket_path(uid: int | None = None) -> Path:
    """Beside ``clean``'s lock: /run/aardcheck (root), $XDG_RUNTIME_DIR/aardcheck (users),
    /tmp/aardcheck-UID without a runtime directory; ``AARDCHECK_ANSWER_SOCKET`` names
    another (the watcher and the commands must see the same value)."""
    if explicit := os.environ.get("AARDCHECK_ANSWER_SOCKET"):  # tests, several watchers
        return Path(explicit)
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return Path("/run/aardcheck") / SOCKET_NAME
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    if not os.path.isdir(runtime):
        return Path(f"/tmp/aardcheck-{uid}") / SOCKET_NAME
    return Path(runtime) / "aardcheck" / SOCKET_NAME


def wants_watcher(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in SERVED_COMMANDS and not COLD_OPTIONS & set(argv)


def _ours(path: Path) -> bool:
    """Only a socket this user owns, in a directory this user owns, is trusted: its
    answer is printed as ours."""
    try:
        sock, parent = os.lstat(path), os.lstat(path.parent)
    except OSError:
        return False
    uid = os.geteuid()
    return stat.S_ISSOCK(sock.st_mode) and sock.st_uid == uid and parent.st_uid == uid


def ask(argv: list[str], timeout: float = ANSWER_TIMEOUT) -> tuple[int, str, str] | None:
    """The watcher's answer (exit code, stdout, stderr), or None: compute it cold.
    (No ``typing`` import here: ~3 ms of an answered command.)"""
    path = answer_socket_path()
    if not _ours(path):
        return None
    # only now: every command starts here, and most find no watcher (socket, json ~7 ms)
    import json
    import socket
    import time

    request = {
        "v": PROTOCOL,
        "argv": argv,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "stdin_tty": sys.stdin.isatty(),
    }
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(path))
            conn.sendall(json.dumps(request).encode() + b"\n")
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := conn.recv(1 << 16):
                chunks.append(chunk)
                conn.settimeout(max(deadline - time.monotonic(), 0.001))
        reply = json.loads(b"".join(chunks))
    except (OSError, ValueError):
        return None
    if not isinstance(reply, dict) or reply.get("v") != PROTOCOL:
        return None
    code, out, err = reply.get("exit"), reply.get("stdout"), reply.get("stderr")
    if not (isinstance(code, int) and isinstance(out, str) and isinstance(err, str)):
        return None
    return code, out, err


def serve_from_watcher(argv: list[str]) -> int | None:
    """Print the watcher's answer and return its exit code; None when there is none."""
    if not wants_watcher(argv):
        return None
    reply = ask(argv)
    if reply is None:
        return None
    code, out, err = reply
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code
