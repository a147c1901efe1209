"""The naming table, checked against the real podman-compose 1.6.0 (no podman needed).

podman-compose runs ``up --dry-run`` with ``--podman-path`` pointing at a fake podman
that records every call: the project is read from its ``ps --filter label=...`` call
and the networks from its ``network exists`` calls. Each case of ``naming_cases``
must give exactly what ``aardcheck.compose.project`` gives.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.compose.naming_cases import CASES, PROJECT_DIR, Case

#: A fake podman in sh (fast to start): logs each call, one argument per field (0x1f),
#: knows the networks it "created" (and those listed in the state file beforehand).
FAKE_PODMAN = r"""#!/bin/sh
printf '%s\037' "$@" >>"$FAKE_PODMAN_STATE.log"
printf '\n' >>"$FAKE_PODMAN_STATE.log"
case "$1 $2" in
"network exists") grep -qxF -- "$3" "$FAKE_PODMAN_STATE" && exit 0 || exit 1 ;;
"network create") eval "last=\${$#}"; printf '%s\n' "$last" >>"$FAKE_PODMAN_STATE" ;;
"pod exists") exit 1 ;;
esac
case "$1" in
ps) echo "[]" ;;
--version|version) echo "podman version 4.3.1" ;;
esac
exit 0
"""


def _podman_compose() -> list[str]:
    found = shutil.which("podman-compose") or str(Path(sys.executable).parent / "podman-compose")
    if not os.access(found, os.X_OK):
        pytest.skip("podman-compose is not installed (pip install podman-compose==1.6.0)")
    return [found]


def run_real_podman_compose(case: Case, tmp: Path) -> tuple[str, set[str]]:
    """(project, names of the networks it checked or created) as podman-compose sees them."""
    project_dir = tmp / PROJECT_DIR
    project_dir.mkdir(parents=True)
    for rel, text in case.files.items():
        (project_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (project_dir / rel).write_text(text)
    fake = tmp / "podman"
    fake.write_text(FAKE_PODMAN)
    fake.chmod(0o755)
    state = tmp / "state"
    state.write_text("".join(f"{n}\n" for n in case.existing))
    argv = [*_podman_compose(), "--podman-path", str(fake), "--dry-run"]
    argv += [a for f in case.args.files for a in ("-f", f)]
    argv += ["-p", case.args.project_name] if case.args.project_name else []
    argv += [a for p in case.args.profiles for a in ("--profile", p)]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "FAKE_PODMAN_STATE": str(state)}
    proc = subprocess.run(
        [*argv, "up", "-d"],
        cwd=project_dir,
        env=env | case.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    log = Path(f"{state}.log").read_text().splitlines()
    calls = [line.split("\x1f")[:-1] for line in log]
    label = next(a for call in calls if call[:1] == ["ps"] for a in call if "project=" in a)
    nets = {call[2] for call in calls if call[:2] == ["network", "exists"]}
    return label.split("project=", 1)[1], nets


@pytest.fixture(scope="module")
def real_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, set[str]]]:
    """Every case through podman-compose, two at a time."""
    _podman_compose()
    base = tmp_path_factory.mktemp("differential")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            case.id: pool.submit(run_real_podman_compose, case, base / case.id) for case in CASES
        }
        return {case_id: future.result() for case_id, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_podman_compose_agrees(case: Case, real_results: dict[str, tuple[str, set[str]]]) -> None:
    assert real_results[case.id] == (case.project, set(case.networks))
