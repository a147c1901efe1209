"""Which networks an event concerns and which a check may name. Pure but for
``known_networks`` (one podman listing and a directory listing)."""

from __future__ import annotations

from aardcheck.models import RunDir, Snapshot
from aardcheck.sources.podman_api import PodmanSession

#: The networks a check looks at; None: every network (of the user's selection).
CheckScope = frozenset[str] | None


def scope_of(networks: CheckScope, selected: frozenset[str]) -> CheckScope:
    """What a check of ``networks`` looks at under the user's ``--network`` selection."""
    if networks is None:
        return None
    return networks & selected if selected else networks


def memberships(snapshot: Snapshot) -> dict[str, frozenset[str]]:
    """Container id -> networks it is in or has a line in (to route podman's events)."""
    found: dict[str, set[str]] = {}
    for c in snapshot.podman.containers:
        found.setdefault(c.id, set()).update(a.network for a in c.attachments)
    for f in snapshot.directory.files:
        for e in f.entries:
            found.setdefault(e.container_id, set()).add(f.network)
    return {cid: frozenset(nets) for cid, nets in found.items()}


def known_networks(session: PodmanSession, run_dir: RunDir | None) -> frozenset[str]:
    """Networks podman knows plus files in the directory (a check may name only these)."""
    from aardcheck.format.grammar import network_name

    names = {n.name for n in session.state().networks}
    if run_dir is not None and run_dir.dns_dir.is_dir():
        names |= {network_name(p.name)[0] for p in run_dir.dns_dir.iterdir()}
    return frozenset(names)
