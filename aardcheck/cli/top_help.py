"""``aardcheck --help`` without typer: typer's own top-level help, kept as text.

Why not let typer print it: importing typer (and the click it vendors) and building the
app cost ~60 ms of a ~100 ms ``--help``, and issue 12 allows the whole help 100 ms over
bare Python. The text below is exactly what typer prints at click's default width (78
columns: stdout is not a terminal, or one at least 80 wide) with plain help; the program
name is filled in as click would. Any other case - a narrower terminal or ``COLUMNS``,
rich help asked for, a long program name, any other argv - goes to typer.

``tests/cli/test_top_help.py`` renders the app with typer and holds it equal to this
text; when a command or its help changes, that test fails and prints the text to paste.
Stdlib only, and imports nothing on its own: it runs before anything else.
"""

from __future__ import annotations

import os
import sys

#: typer's rendering of ``aardcheck --help`` at width 78, the program name as ``{prog}``.
TEXT = """\
Usage: {prog} [OPTIONS] COMMAND [ARGS]...

  Find and repair stale, duplicate and dead aardvark-dns mappings on podman
  hosts.

  Exit codes: 0 clean, 1 findings, 2 usage error, 3 environment error (podman
  or a directory unavailable), 4 repair started but not completed, 5 another
  aardcheck holds the lock.

Options:
  --version  Show the version.
  --help     Show this message and exit.

Commands:
  check      Cross-check every aardvark-dns line against podman and the...
  lint       Validate files against aardvark-dns's grammar only (no...
  fix        Repair stale mappings safely: plan, show, confirm, apply,...
  watch      Watch aardvark-dns files and podman events; report findings...
  preflight  Is `podman-compose up` safe for this project? Exit 0 only...
  compose    Pre-flight, then `podman-compose ARGS...` with the same...
  clean      Prune what is unambiguously dead; silent when there was...
  systemd    Install aardcheck's systemd units.
"""

#: Longest program name whose usage line typer keeps on one line at width 78.
LONGEST_PROG = 40
#: Narrowest terminal at which click formats help at its default width (80 - 2).
DEFAULT_WIDTH_FROM = 80


def rich_help_wanted() -> bool:
    """Whether help is rendered with rich: only for a person at a terminal who asks for
    it with ``TYPER_USE_RICH=1`` (rich's import costs more than the whole help may)."""
    wanted = os.environ.get("TYPER_USE_RICH", "").lower() in ("1", "true", "yes", "on")
    return wanted and sys.stdout.isatty()


def program_name() -> str:
    """The name click puts in the usage line (its ``_detect_program_name``): the script's
    file name, or ``python -m PACKAGE[.MODULE]`` when run with ``-m``."""
    path = sys.argv[0] if sys.argv else ""
    package = getattr(sys.modules.get("__main__"), "__package__", None)
    if not package:
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def _columns() -> int:
    """The terminal width as click sees it (``shutil.get_terminal_size``'s rule, without
    importing shutil: ``COLUMNS``, else stdout's terminal, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def show(argv: list[str]) -> None:
    """Print the top-level help and exit 0 when argv asks for it plainly; else return."""
    if argv != ["--help"] or rich_help_wanted() or _columns() < DEFAULT_WIDTH_FROM:
        return
    prog = program_name()
    if len(prog) > LONGEST_PROG:
        return
    sys.stdout.write(TEXT.replace("{prog}", prog, 1))
    sys.stdout.flush()
    raise SystemExit(0)
