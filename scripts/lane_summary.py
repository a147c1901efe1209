"""Print each podman stack's test counts from its JUnit XML, then one line over all.

    python scripts/lane_summary.py RESULTS_DIR LANE [LANE ...]

The last line has the form ``total: N passed, N failed, N skipped``.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

WHERE = {"podman4": "host", "podman5": "Debian 13 lane"}
#: The versions tests/conftest.py records for each run.
STACK = ("podman", "netavark", "aardvark-dns")


def counts(path: Path) -> tuple[int, int, int, str] | None:
    """(passed, failed, skipped, stack versions) of one JUnit file; None when none."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = failed = skipped = 0
    versions: dict[str, str] = {}
    for suite in suites:
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
        for prop in suite.iter("property"):  # written by tests/conftest.py
            if prop.get("name") in STACK:  # (hypothesis records its statistics there too)
                versions[prop.get("name", "")] = prop.get("value", "")
    stack = ", ".join(f"{k} {v or '?'}" for k, v in versions.items())
    return total - failed - skipped, failed, skipped, stack


def main(argv: list[str]) -> int:
    results, lanes = Path(argv[1]), argv[2:]
    passed = failed = skipped = 0
    for lane in lanes:
        found = counts(results / f"{lane}.xml")
        if found is None:
            print(f"{lane}: no results: the lane did not run")
            failed += 1
            continue
        p, f, s, stack = found
        print(f"{lane}: {p} passed, {f} failed, {s} skipped - {stack} ({WHERE.get(lane, lane)})")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
