"""What a check and a fix are asked to do: the options every command and the watcher
build, and the runners take. A leaf: the dnsname backend's runners read these too."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aardcheck.findings import Kind
from aardcheck.models import AardvarkVersion

if TYPE_CHECKING:
    # a check never repairs: the repair modules (~10 ms) load only when fixing
    from aardcheck.repair.plan import Strategy


@dataclass(frozen=True, slots=True)
class CheckOptions:
    networks: frozenset[str] = frozenset()
    probe: bool = True
    probe_count: int = 3
    probe_timeout: float = 1.0
    liveness_timeout: float = 1.5
    run_dir: Path | None = None
    url: str | None = None
    aardvark_version: AardvarkVersion | None = None
    ignore: tuple[Kind, ...] = field(default=())
    #: A selected network that exists nowhere is a usage error - except when verifying a
    #: repair that just deleted the last trace of it.
    strict_selection: bool = True


def _prune() -> Strategy:
    from aardcheck.repair.plan import Strategy

    return Strategy.PRUNE


@dataclass(frozen=True, slots=True)
class FixOptions:
    check: CheckOptions
    strategy: Strategy = field(default_factory=_prune)
    recreate: frozenset[str] = frozenset()
    restart_consumers: bool = False
    dry_run: bool = False
    lock_timeout: float = 30.0
    #: Verification re-probes while aardvark may still be reloading (bounded).
    verify_attempts: int = 4
    verify_pause: float = 0.5
