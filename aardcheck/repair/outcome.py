"""What a repair did: logged changes and the overall result (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

from aardcheck.errors import ExitCode
from aardcheck.findings import CheckResult
from aardcheck.repair.plan import RepairPlan


@dataclass(frozen=True, slots=True)
class Change:
    """One logged step: what, where, before/after, and whether it happened."""

    action: str
    network: str
    target: str
    status: str  # "done", "skipped", "failed"
    detail: str
    before: str = ""
    after: str = ""

    def as_dict(self) -> dict[str, str]:
        """The JSON form shared by every report that lists changes."""
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class FixResult:
    before: CheckResult
    plan: RepairPlan
    changes: tuple[Change, ...] = ()
    after: CheckResult | None = None
    applied: bool = False

    @property
    def exit_code(self) -> ExitCode:
        if any(c.status == "failed" for c in self.changes):
            return ExitCode.REPAIR_INCOMPLETE
        remaining = self.after.findings if self.after is not None else self.before.findings
        return ExitCode.FINDINGS if remaining else ExitCode.CLEAN
