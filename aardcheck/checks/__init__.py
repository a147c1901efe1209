"""Judging a snapshot: one module per kind of finding, each pure (``check(facts) ->
Iterator[Finding]``, with the ``KINDS`` it may yield and a docstring that is the user
documentation of those kinds); ``facts`` holds the indexes they share, ``analysis`` runs
them all (ignores applied, findings sorted) and ``probe_plan`` says which names to ask
where.

Pure: a Snapshot in, findings out, tested with literal data. May import ``models``,
``findings`` and ``format``; must not import ``sources``, ``runner``, ``repair``,
``report`` or anything else that touches the outside world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType

from aardcheck.checks import (
    dns_answers,
    duplicates,
    file_health,
    header,
    missing,
    orphans,
    stale_entries,
    unchecked,
)
from aardcheck.checks.facts import Facts
from aardcheck.findings import Finding, Kind

CheckFn = Callable[[Facts], Iterator[Finding]]

MODULES: tuple[ModuleType, ...] = (
    file_health,
    orphans,
    header,
    stale_entries,
    duplicates,
    missing,
    dns_answers,
    unchecked,
)


def registry() -> dict[Kind, ModuleType]:
    """Finding kind -> the module that detects (and documents) it."""
    return {kind: mod for mod in MODULES for kind in mod.KINDS}
