"""Running commands with bounded time, and errors that say what went wrong."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

#: Upper bound for one podman (or helper) command, in seconds.
DEFAULT_TIMEOUT = 120.0


class HarnessError(RuntimeError):
    """The harness could not do what a test asked; the message says what and why."""


class RecipeError(HarnessError):
    """A stale-entry recipe ran but did not leave the stale line it promised."""


class CommandError(HarnessError):
    """A command exited non-zero; carries its argv, exit code and output."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            f"command failed (exit {returncode}): {shlex.join(self.argv)}\n"
            f"stderr:\n{stderr.strip() or '(empty)'}"
        )


class CommandTimeout(HarnessError):
    """A command did not finish within its time limit (it was killed)."""

    def __init__(self, argv: Sequence[str], timeout: float, stderr: str) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        super().__init__(
            f"command timed out after {timeout:.0f}s: {shlex.join(self.argv)}\n"
            f"stderr so far:\n{stderr.strip() or '(empty)'}"
        )


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input_text: str | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run argv to completion (no shell), capturing text output.

    Raises CommandTimeout past ``timeout`` seconds and, when ``check``, CommandError on a
    non-zero exit. Standard input is empty unless ``input_text`` is given.
    """
    args = [str(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if input_text is None else None,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        stderr = err.stderr if isinstance(err.stderr, str) else (err.stderr or b"").decode()
        raise CommandTimeout(args, timeout, stderr) from None
    if check and proc.returncode != 0:
        raise CommandError(args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
) -> T:
    """Call ``probe`` until it returns something other than None/False; return that.

    Polls every ``interval`` seconds (growing up to 0.5 s) and raises HarnessError naming
    ``what`` once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HarnessError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.5)
