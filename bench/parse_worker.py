"""One cold measurement of the parser, in a process of its own (run by ``sections.parser``).

    python bench/parse_worker.py make DIR NETWORKS LINES     # write a corpus
    python bench/parse_worker.py parse DIR                   # read_dns_directory
    python bench/parse_worker.py check DIR                   # parse + every check
    python bench/parse_worker.py agree DIR                   # fast path == general parser

Prints one JSON object. A fresh process per run keeps the parser's caches and the
interpreter's memory cold, as in a first ``aardcheck check``; imports are not timed.
Run by path, it measures whichever ``aardcheck`` PYTHONPATH names (the working tree, or
a baseline revision for before/after).
"""

from __future__ import annotations

import json
import sys
import time
from ipaddress import IPv4Address, IPv4Network, IPv6Address
from pathlib import Path
from typing import Any

#: The grammar measured (the installed aardvark-dns here).
VERSION = (1, 4, 0)
#: Every tenth network is dual-stack, as netavark writes it: "id v4 v6 names".
DUAL_STACK_EVERY = 10


def _container_id(network: int, line: int) -> str:
    return f"{network:08x}{line:08x}".ljust(64, "c")


def _v4(network: int, line: int) -> IPv4Address:
    return IPv4Address(int(IPv4Address("10.0.0.0")) + network * 1024 + line + 2)


def _v6(network: int, line: int) -> IPv6Address:
    return IPv6Address(int(IPv6Address("fd00::")) + (network << 16) + line + 2)


def make(directory: Path, networks: int, lines: int) -> dict[str, Any]:
    """``networks`` files of ``lines`` container lines each, in netavark 1.4's format."""
    dns = directory / "aardvark-dns"
    dns.mkdir(parents=True, exist_ok=True)
    for n in range(networks):
        dual = n % DUAL_STACK_EVERY == 0
        gateway = _v4(n, -1)
        rows = [f"{gateway},{_v6(n, -1)}" if dual else str(gateway)]
        for m in range(lines):
            cid = _container_id(n, m)
            v6 = str(_v6(n, m)) if dual else ""
            rows.append(f"{cid} {_v4(n, m)} {v6} bench{n}x{m},svc{m % 7},{cid[:12]}")
        (dns / f"benchnet{n:04d}").write_text("\n".join(rows) + "\n")
    return {"files": networks, "lines": networks * lines}


def _podman_state(directory: Path) -> Any:
    """Every line's container running where its line says: a clean host of that size."""
    from aardcheck.models import Attachment, Container, Network, PodmanState, Subnet

    containers = []
    networks = []
    for path in sorted((directory / "aardvark-dns").iterdir()):
        n = int(path.name.removeprefix("benchnet"))
        dual = n % DUAL_STACK_EVERY == 0
        count = len(path.read_text().splitlines()) - 1
        base = _v4(n, -2)
        subnets = [Subnet(IPv4Network(f"{base}/22"), _v4(n, -1))]
        for m in range(count):
            cid = _container_id(n, m)
            att = Attachment(
                path.name,
                (_v4(n, m),),
                (_v6(n, m),) if dual else (),
                (f"svc{m % 7}",),
            )
            containers.append(Container(cid, f"bench{n}x{m}", "running", (att,)))
        networks.append(Network(path.name, f"{n:064x}", interface="", subnets=tuple(subnets)))
    return PodmanState(tuple(containers), tuple(networks))


def _version() -> Any:
    from aardcheck.models import AardvarkVersion

    return AardvarkVersion(*VERSION)


def _read(directory: Path) -> Any:
    from aardcheck.models import RunDir, Scope
    from aardcheck.sources.aardvark_files import read_dns_directory

    return read_dns_directory(RunDir(directory, Scope.ROOTFUL, 0), _version())


def _timed(body: Any) -> tuple[Any, float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = body()
    return result, time.perf_counter() - wall0, time.process_time() - cpu0


def parse(directory: Path) -> dict[str, Any]:
    import aardcheck.sources.aardvark_files  # noqa: F401 (imports are not timed)

    found, wall, cpu = _timed(lambda: _read(directory))
    entries = sum(len(f.entries) for f in found.files)
    defects = sum(1 for f in found.files if f.defect)
    return {"wall": wall, "cpu": cpu, "entries": entries, "defects": defects}


def _analyse() -> Any:
    try:
        from aardcheck.checks.analysis import analyse
    except ImportError:  # a baseline revision from before the package layout of issue 15
        from aardcheck.analysis import analyse
    return analyse


def check(directory: Path) -> dict[str, Any]:
    from aardcheck.models import Snapshot

    analyse = _analyse()
    state = _podman_state(directory)

    def body() -> Any:
        snapshot = Snapshot(directory=_read(directory), podman=state, aardvark_version=_version())
        return analyse(snapshot)

    findings, wall, cpu = _timed(body)
    return {"wall": wall, "cpu": cpu, "findings": len(findings)}


def agree(directory: Path) -> dict[str, Any]:
    """Every line through the fast path and through the general parser: equal entries."""
    from aardcheck.format.fastpath import quick_entry
    from aardcheck.format.grammar import grammar_for
    from aardcheck.format.parse import _parse_entry

    grammar = grammar_for(_version())
    lines = fast = mismatches = 0
    for path in sorted((directory / "aardvark-dns").iterdir()):
        rows = [r for r in path.read_text().split("\n") if r][1:]
        for number, row in enumerate(rows, 2):
            lines += 1
            quick = quick_entry(row, number, grammar.lowercase)
            general = _parse_entry(row, number, grammar)
            if quick is not None:
                fast += 1
                mismatches += quick != general
    return {"lines": lines, "fast_path": fast, "mismatches": mismatches}


def main(argv: list[str]) -> int:
    command, directory = argv[0], Path(argv[1])
    if command == "make":
        result = make(directory, int(argv[2]), int(argv[3]))
    elif command == "parse":
        result = parse(directory)
    elif command == "check":
        result = check(directory)
    elif command == "agree":
        result = agree(directory)
    else:
        print(f"unknown command {command}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
