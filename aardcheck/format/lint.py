"""``aardcheck lint``: grammar-only validation of aardvark files (no podman).

Each entry gets a verdict and the consequence aardvark ``version`` draws from it
(:class:`Effect`): up to 1.11 one bad file stops DNS for every network, from 1.12 the
file is skipped and only its network goes quiet (see :mod:`aardcheck.format.grammar`).

Beyond the grammar, lint looks at one thing that spans files: two networks with the same
gateway address. aardvark binds one listener per (network, gateway) and only the first
bind of an address succeeds (``stop_and_start_threads`` in ``src/server/serve.rs``).
Up to 1.11 the loser is logged and its names are not answered there; from 1.12 a bind
error at start stops ``aardvark-dns run`` altogether (measured on 1.14.0: exit 1,
"failed to bind udp listener ... Address already in use"), at a reload it is logged.
Which of the two networks wins is arbitrary (aardvark walks a hash map).

The verdicts only: reading the files is ``runner.lint``, printing them
``report.lint_report``.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aardcheck.models import (
    AardvarkVersion,
    IPAddress,
    NetworkFile,
    UnreadableEntry,
)


class Effect(enum.Enum):
    """What the installed aardvark does because of one directory entry."""

    NONE = "none"  # served as written
    NETWORK_DOWN = "network-down"  # this network's names are not answered
    ALL_DOWN = "all-down"  # DNS stops for every network on the host
    START_FAILS = "start-fails"  # aardvark cannot start; a running one loses a listener
    UNKNOWN = "unknown"  # not looked at (e.g. a symlink leaving the directory)


@dataclass(frozen=True, slots=True)
class LintResult:
    path: Path
    version: AardvarkVersion
    ok: bool
    line_no: int | None = None
    reason: str = ""
    entries: int = 0
    #: False: the entry could not be looked at (so it is not ``ok`` either).
    checked: bool = True
    effect: Effect = Effect.NONE


@dataclass(frozen=True, slots=True)
class GatewayClash:
    """``path`` (network ``network``) repeats ``gateway``, already held by ``holder``."""

    path: Path
    network: str
    gateway: IPAddress
    holder: Path
    holder_network: str


def _served_network(path: Path, network: str, version: AardvarkVersion) -> str:
    """The network name aardvark ``version`` keys the listener on."""
    return network if version.merges_internal_files else path.name


def gateway_clashes(
    files: Iterable[NetworkFile], version: AardvarkVersion
) -> tuple[GatewayClash, ...]:
    """Gateways that two networks aardvark serves both claim, in file-name order. Pure.

    Files with a defect are skipped or fatal on their own, so they are left out. On
    aardvark >= 1.11 ``NAME`` and ``NAME%int`` are one network and may share an address.
    """
    holders: dict[IPAddress, tuple[str, Path]] = {}
    clashes: list[GatewayClash] = []
    for f in sorted(files, key=lambda f: f.path.name):
        if f.defect is not None or f.header is None:
            continue
        network = _served_network(f.path, f.network, version)
        for gateway in dict.fromkeys(f.header.gateways):
            held = holders.setdefault(gateway, (network, f.path))
            if held[0] != network:
                clashes.append(GatewayClash(f.path, network, gateway, held[1], held[0]))
    return tuple(clashes)


def clash_reason(clash: GatewayClash, version: AardvarkVersion) -> tuple[str, Effect]:
    """The message and effect of one clash under aardvark ``version``."""
    what = (
        f"gateway {clash.gateway} is also the gateway of network {clash.holder_network!r} "
        f"({clash.holder.name}); aardvark-dns can listen there for one network only"
    )
    if version.start_checks_listeners:
        return (
            f"{what}: aardvark-dns {version} fails to start (no DNS for any network on the "
            "host), and at a reload one of the two networks gets no listener",
            Effect.START_FAILS,
        )
    return (
        f"{what}: aardvark-dns {version} serves one of the two there (which one is "
        "arbitrary) and the other's names are not answered",
        Effect.NETWORK_DOWN,
    )


def _sibling_copies(
    unreadable: Sequence[UnreadableEntry], files: Sequence[NetworkFile]
) -> list[NetworkFile]:
    """Symlinks to a network file of the same directory: aardvark reads each as a
    network of the link's name with the target's content (so the target's gateways)."""
    from aardcheck.format.grammar import network_name

    by_name = {f.path.name: f for f in files}
    copies = []
    for u in unreadable:
        try:
            target = os.readlink(u.path)
        except OSError:  # not a symlink
            continue
        resolved = Path(os.path.normpath(u.path.parent / target))
        twin = by_name.get(resolved.name) if resolved.parent == u.path.parent else None
        if twin is not None:
            network, internal = network_name(u.path.name)
            copies.append(replace(twin, path=u.path, network=network, internal=internal))
    return copies


def file_result(f: NetworkFile, version: AardvarkVersion) -> LintResult:
    effect = Effect.NONE
    if f.defect is not None:
        effect = Effect.NETWORK_DOWN if version.skips_bad_files else Effect.ALL_DOWN
    return LintResult(
        path=f.path,
        version=version,
        ok=f.defect is None,
        line_no=f.defect.line_no if f.defect else None,
        reason=f.defect.reason if f.defect else "",
        entries=len(f.entries),
        effect=effect,
    )


def directory_results(
    files: Sequence[NetworkFile], unreadable: Sequence[UnreadableEntry], version: AardvarkVersion
) -> list[LintResult]:
    results: dict[Path, LintResult] = {}
    for u in unreadable:
        # Not read (or would break aardvark): never counted as accepted.
        effect = Effect.ALL_DOWN if u.breaks_aardvark else Effect.UNKNOWN
        results[u.path] = LintResult(
            u.path, version, False, reason=u.reason, checked=u.breaks_aardvark, effect=effect
        )
    for f in files:
        results[f.path] = file_result(f, version)
    copies = _sibling_copies(unreadable, files)
    for clash in gateway_clashes([*files, *copies], version):
        reason, effect = clash_reason(clash, version)
        entries = next((len(c.entries) for c in copies if c.path == clash.path), None)
        kept = results[clash.path]
        results[clash.path] = replace(
            kept,
            ok=False,
            checked=True,
            reason=reason,
            effect=effect,
            entries=kept.entries if entries is None else entries,
        )
    return list(results.values())
