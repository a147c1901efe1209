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

#: A watcher that has not answered within this long is skipped (issue 12).
ANSWER_TIMEOUT = 0.05
SOCKET_NAME = "watch.sock"
#: Commands a watcher can answer; options that force the cold path.
SERVED_COMMANDS = frozenset({"check", "preflight", "clean"})
COLD_OPTIONS = frozenset({"--no-watcher", "--help", "-h"})
PROTOCOL = 2
MAGIC = f"aardcheck-answer {PROTOCOL}"

# The wire format is NUL-separated fields, not JSON, and the socket is ``_socket``'s:
# ``json`` (through ``re``) and ``socket`` (through ``enum``) cost ~13 ms here, ~20 ms on
# Python 3.13, of the ~25 ms an answered command may add to Python's start (issue 12's
# warm target is half of podman's CLI pair). argv, the environment and a path cannot
# hold NUL, so the fields need no escaping.
#   request: MAGIC \0 cwd \0 stdin-tty (1/0) \0 N \0 argv[0] .. argv[N-1] \0 KEY=VALUE ...
#   reply:   MAGIC " declined" \n reason
#            MAGIC " " exit " " len(stdout) \n stdout stderr       (UTF-8)
_ENCODING, _ERRORS = "utf-8", "surrogateescape"


def answer_socket_path(uid: int | None = None) -> str:
    """Beside ``clean``'s lock: /run/aardcheck (root), $XDG_RUNTIME_DIR/aardcheck (users),
    /tmp/aardcheck-UID without a runtime directory; ``AARDCHECK_ANSWER_SOCKET`` names
    another (the watcher and the commands must see the same value). A string, not a
    ``Path``: pathlib's import is 10-14 ms of an answered command."""
    if explicit := os.environ.get("AARDCHECK_ANSWER_SOCKET"):  # tests, several watchers
        return explicit
    uid = os.geteuid() if uid is None else uid
    if uid == 0:
        return f"/run/aardcheck/{SOCKET_NAME}"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
    if not os.path.isdir(runtime):
        return f"/tmp/aardcheck-{uid}/{SOCKET_NAME}"
    return os.path.join(runtime, "aardcheck", SOCKET_NAME)


def wants_watcher(argv: list[str]) -> bool:
    return bool(argv) and argv[0] in SERVED_COMMANDS and not COLD_OPTIONS & set(argv)


def _ours(path: str) -> bool:
    """Only a socket this user owns, in a directory this user owns, is trusted: its
    answer is printed as ours."""
    try:
        sock, parent = os.lstat(path), os.lstat(os.path.dirname(path) or ".")
    except OSError:
        return False
    uid = os.geteuid()
    return stat.S_ISSOCK(sock.st_mode) and sock.st_uid == uid and parent.st_uid == uid


def encode_request(argv: list[str], cwd: str, env: dict[str, str], stdin_tty: bool) -> bytes:
    fields = [MAGIC, cwd, "1" if stdin_tty else "0", str(len(argv)), *argv]
    fields += [f"{key}={value}" for key, value in env.items()]
    return "\0".join(fields).encode(_ENCODING, _ERRORS)


def decode_request(data: bytes) -> dict[str, object] | None:
    """The request as the watcher's handler takes it; None when it is not one."""
    fields = data.decode(_ENCODING, _ERRORS).split("\0")
    if len(fields) < 4 or fields[0] != MAGIC or not fields[3].isdigit():
        return None
    count = int(fields[3])
    if len(fields) < 4 + count:
        return None
    env = dict(item.partition("=")[::2] for item in fields[4 + count :])
    return {
        "argv": fields[4 : 4 + count],
        "cwd": fields[1],
        "env": env,
        "stdin_tty": fields[2] == "1",
    }


def encode_reply(reply: dict[str, object]) -> bytes:
    """``{"declined": why}`` or ``{"exit": int, "stdout": str, "stderr": str}``."""
    code, out, err = reply.get("exit"), reply.get("stdout"), reply.get("stderr")
    if "declined" in reply or not (
        isinstance(code, int) and isinstance(out, str) and isinstance(err, str)
    ):
        why = reply.get("declined", "no answer")
        return f"{MAGIC} declined\n{why}".encode(_ENCODING, _ERRORS)
    stdout, stderr = out.encode(_ENCODING, _ERRORS), err.encode(_ENCODING, _ERRORS)
    return f"{MAGIC} {code} {len(stdout)}\n".encode() + stdout + stderr


def decode_reply(data: bytes) -> tuple[int, str, str] | None:
    """(exit code, stdout, stderr), or None for a decline or anything malformed."""
    head, newline, body = data.partition(b"\n")
    words = head.decode(_ENCODING, _ERRORS).split(" ")
    if not newline or len(words) != 4 or " ".join(words[:2]) != MAGIC:
        return None
    code, size = words[2], words[3]
    if not (code.lstrip("-").isdigit() and size.isdigit()) or int(size) > len(body):
        return None
    cut = int(size)
    return int(code), body[:cut].decode(_ENCODING, _ERRORS), body[cut:].decode(_ENCODING, _ERRORS)


def ask(argv: list[str], timeout: float = ANSWER_TIMEOUT) -> tuple[int, str, str] | None:
    """The watcher's answer (exit code, stdout, stderr), or None: compute it cold.
    (No ``typing`` import here: ~3 ms of an answered command.)"""
    path = answer_socket_path()
    if not _ours(path):
        return None
    # only now: every command starts here, and most find no watcher
    import _socket
    import time

    deadline = time.monotonic() + timeout
    try:
        request = encode_request(argv, os.getcwd(), dict(os.environ), sys.stdin.isatty())
    except (OSError, ValueError):  # no working directory; text no file name can hold
        return None
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(request)
        conn.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(1 << 16):
            chunks.append(chunk)
            conn.settimeout(max(deadline - time.monotonic(), 0.001))
    except OSError:
        return None
    finally:
        conn.close()
    return decode_reply(b"".join(chunks))


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
