"""The README's install commands, read from the README itself so the tests run exactly
what it tells people to type."""

from __future__ import annotations

import re

from tests.realpodman.invoke import REPO_ROOT

#: The closing line of ``aardcheck check``'s text report.
CHECK_SUMMARY = re.compile(r"^(\d+ finding\(s\)|clean: no findings); \d+ network\(s\)", re.M)


def quick_start_commands() -> list[str]:
    """Every indented command line of the README's "Quick start" section, in order
    (comments after ``#`` removed)."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    lines = [line[4:].split("  #", 1)[0].strip() for line in section.splitlines()]
    return [
        line
        for line, raw in zip(lines, section.splitlines(), strict=True)
        if raw.startswith("    ") and line and not line.startswith("aardcheck: error:")
    ]


def quick_start(prefix: str) -> str:
    """The one quick-start command that starts with ``prefix`` (e.g. ``sudo ``)."""
    found = [c for c in quick_start_commands() if c.startswith(prefix)]
    assert len(found) == 1, (prefix, quick_start_commands())
    return found[0]
