"""``python -m aardcheck`` and the ``aardcheck`` script.

A running watcher is asked first (``sources.watcher``), before typer and the rest of
aardcheck are imported: an answered command costs little more than starting Python.
Then plain argv of the cold-path commands runs without typer (``cli.fast``), and so does
the plain top-level ``--help`` (``cli.top_help``); typer parses the rest (other help,
errors, every other command).
"""

import sys

#: The commands ``cli.fast`` can run without typer (its ``COMMANDS``; a test holds the
#: two equal). Named here so that ``--help`` and the other commands skip importing it.
FAST_COMMANDS = frozenset({"check", "clean", "preflight", "compose", "lint"})


def main() -> None:
    if sys.argv[1:] == ["--help"]:
        from aardcheck.cli.top_help import show

        show(sys.argv[1:])
    from aardcheck.sources.watcher import serve_from_watcher

    code = serve_from_watcher(sys.argv[1:])
    if code is not None:
        sys.stdout.flush()
        raise SystemExit(code)
    if sys.argv[1:2] and sys.argv[1] in FAST_COMMANDS:
        from aardcheck.cli.fast import run

        run(sys.argv[1:])
    from aardcheck.cli.app import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
