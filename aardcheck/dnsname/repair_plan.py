"""The repair plan for dnsname networks. Pure: findings in, the shared plan types out.

- dead, stopped and duplicate lines: pruned (for a duplicate, every copy but the first);
- an orphan directory: stopped (its dnsmasq) and deleted, as dnsname itself does when a
  network's last line goes (``main.go: cmdDel``);
- a wrong or missing line of a running container: not edited. dnsname removes lines by
  container name, so ``podman network reload CONTAINER`` (its teardown and setup) rewrites
  them; the plan names the command and leaves it to the user;
- unknown lines, unparsable lines, DNS answers: never changed (see the reasons).
"""

from __future__ import annotations

from collections import defaultdict

from aardcheck.models import CheckResult, Finding, Kind
from aardcheck.repair.plan import Action, DeleteFile, PruneLines, RepairPlan, Skipped

PRUNED = frozenset({Kind.DEAD_ENTRY, Kind.STOPPED_ENTRY, Kind.DUPLICATE_ENTRY})
NOT_ACTIONABLE = {
    Kind.WRONG_ADDRESS: "a running container's line: run `podman network reload CONTAINER` "
    "(dnsname rewrites every line of that container name)",
    Kind.MISSING_ENTRY: "a running container's line: run `podman network reload CONTAINER`",
    Kind.UNKNOWN_ENTRY: "cannot be proven dead; aardcheck never removes such a line",
    Kind.UNPARSABLE_FILE: "dnsmasq skips the line; edit it by hand if it matters",
    Kind.DNS_MISMATCH: "follows from the file's lines; verified again after the repair",
    Kind.RESOLVER_DOWN: "dnsmasq is not answering; dnsname starts it at the next container",
}


def build_dnsname_plan(result: CheckResult) -> RepairPlan:
    """Actions for the dnsname networks of one check, in network order."""
    prune: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    actions: list[Action] = []
    skipped: list[Skipped] = []
    for f in result.findings:
        if f.kind in PRUNED and f.line_no is not None:
            prune[(f.network, f.path)].append(f)
        elif f.kind is Kind.ORPHAN_FILE:
            actions.append(DeleteFile(f.network, f.path, "dnsname directory of a removed network"))
        elif f.kind in NOT_ACTIONABLE:
            skipped.append(Skipped(f, NOT_ACTIONABLE[f.kind]))
    for (network, path), found in sorted(prune.items()):
        for f in sorted(found, key=lambda x: x.line_no or 0):
            actions.append(
                PruneLines(
                    network=network,
                    path=path,
                    container_id=f.container_id,
                    names=(f.name,),
                    line_nos=(f.line_no or 0,),
                    reason=str(f.kind),
                )
            )
    return RepairPlan(tuple(actions), tuple(skipped))
