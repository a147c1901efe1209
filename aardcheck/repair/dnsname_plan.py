"""The repair plan for dnsname networks. Pure: findings in, the shared plan types out.

- dead, stopped and duplicate lines: pruned (for a duplicate, every copy but the first);
- an orphan directory: stopped (its dnsmasq) and deleted, as dnsname itself does when a
  network's last line goes (``main.go: cmdDel``);
- a wrong or missing line of a running container: never edited by hand. dnsname removes
  lines by container name, so ``podman network reload CONTAINER`` (its teardown and setup)
  drops every line of that name and writes the right ones (seen on podman 4.3.1);
- unknown lines, unparsable lines, DNS answers: never changed (see the reasons).
"""

from __future__ import annotations

from collections import defaultdict

from aardcheck.findings import CheckResult, Finding, Kind
from aardcheck.repair.plan import (
    Action,
    DeleteFile,
    PruneLines,
    ReloadContainer,
    RepairPlan,
    Skipped,
)

PRUNED = frozenset({Kind.DEAD_ENTRY, Kind.STOPPED_ENTRY, Kind.DUPLICATE_ENTRY})
RELOADED = frozenset({Kind.WRONG_ADDRESS, Kind.MISSING_ENTRY})
NOT_ACTIONABLE = {
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
    running = {c.id: c for c in result.snapshot.podman.containers if c.running}
    reloads: dict[tuple[str, str], ReloadContainer] = {}
    for f in result.findings:
        if f.kind in RELOADED:
            owner = running.get(f.container_id)
            if owner is None:
                skipped.append(Skipped(f, "its container does not run (any more)"))
            else:
                reloads[(f.network, owner.id)] = ReloadContainer(
                    f.network, owner.id, owner.name, f"{f.kind}: dnsname rewrites its lines"
                )
        elif f.kind in PRUNED and f.line_no is not None:
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
    # after the prunes: a reload takes the plugin's lock itself, through podman
    actions.extend(reloads[key] for key in sorted(reloads))
    return RepairPlan(tuple(actions), tuple(skipped))
