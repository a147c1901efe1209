"""Text from files and podman made safe to print: names can hold anything.

Its own module so that ``lint``'s report does not import the check's report (and with
it the findings' dataclasses, ~6 ms of a lint run).
"""

from __future__ import annotations


def escape(text: str) -> str:
    """Show control characters and other oddities visibly."""
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")
