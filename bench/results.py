"""What a benchmark section hands back: figures against targets, detail tables, raw data."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One headline number, with the target it is judged against (if any)."""

    key: str
    measure: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    def shown(self) -> str:
        if self.value is None or math.isnan(self.value):
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "s":
            return f"{self.value:.3f} s"
        if self.unit == "ms":
            return f"{self.value:.0f} ms"
        if self.unit == "%":
            return f"{self.value:.2f} %"
        if self.unit == "MiB":
            return f"{self.value:.1f} MiB"
        return f"{self.value:g} {self.unit}".strip()

    def verdict(self) -> str:
        if self.met is None:
            return ""
        return "met" if self.met else "**not met**"


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass
class Section:
    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""

    def figure(self, *args: Any, **kwargs: Any) -> Figure:
        made = Figure(*args, **kwargs)
        self.figures.append(made)
        return made

    def table(self, title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
        self.tables.append(Table(title, header, tuple(rows)))


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None or math.isnan(value) else value <= limit


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


def print_and_save(result: dict[str, Any], path: Path) -> None:
    """A by-hand benchmark's JSON document: printed, and written to ``path``."""
    doc = json.dumps(result, indent=1)
    print(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc + "\n")
