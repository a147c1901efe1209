"""5. Start-up: ``aardcheck --help`` and ``aardcheck lint FILE`` against ``python -c pass``.

Targets: ``--help`` and ``lint`` within 100 ms of bare Python (issue 12). Help is measured
twice: with stdout a pipe (plain help: scripts, ``| less``, CI) and on a pseudo-terminal
(plain help too since issue 12; rich with TYPER_USE_RICH=1). The import profile of each command
(``python -X importtime``, best of several runs) is the explanation of what remains.
"""

from __future__ import annotations

import functools
import os
import pty
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from bench.baseline import Baseline
from bench.results import Section, at_most, ms
from bench.timing import Sample, Series, alternate, paired_differences, run_timed

REPO = Path(__file__).resolve().parents[2]
HELP_PIPE = "aardcheck --help (pipe)"
HELP_TTY = "aardcheck --help (terminal)"
PASS_TTY = "python -c pass (terminal)"
LINT = "aardcheck lint FILE"
BEFORE = "before: "
HELP_LIMIT = 0.100
LINT_LIMIT = 0.100
#: Modules heavier than this (best of runs, cumulative) are listed in the import profile.
PROFILE_FLOOR_MS = 4.0

_LINT_FILE = "10.89.7.1\n" + "".join(
    f"{i:064x} 10.89.7.{i + 2}  web{i},app,{i:012x}\n" for i in range(1, 21)
)


def _env() -> dict[str, str]:
    """The working tree first; an inherited PYTHONPATH after it (e.g. another typer, to
    compare: ``PYTHONPATH=DIR python -m bench --only startup``)."""
    env = dict(os.environ)
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *([inherited] if inherited else [])])
    env.pop("TYPER_USE_RICH", None)
    # as installed: byte code cached (a developer's PYTHONDONTWRITEBYTECODE would make every
    # run compile the changed modules again)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _on_pty(argv: list[str], env: dict[str, str], cwd: str) -> Sample:
    """Run argv with stdout and stderr on a pseudo-terminal (drained by a thread)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
    wall = time.perf_counter() - started
    reader.join(timeout=5)
    os.close(master)
    return Sample(wall, 0.0, proc.returncode, b"".join(chunks).decode(errors="replace"))


def import_profile(argv: list[str], env: dict[str, str], runs: int) -> list[tuple[str, float]]:
    """Modules by cumulative import time (best of ``runs``), top level and one below."""
    best: dict[str, float] = defaultdict(lambda: float("inf"))
    order: list[tuple[str, int]] = []
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|(\s+)(\S+)")
    for index in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for line in done.stderr.splitlines():
            match = pattern.match(line)
            if match is None:
                continue
            name, depth = match.group(3), (len(match.group(2)) - 1) // 2
            if index == 0:
                order.append((name, depth))
            best[name] = min(best[name], int(match.group(1)) / 1000)
    return [
        (("  " * depth) + name, best[name])
        for name, depth in order
        if depth <= 1 and best[name] >= PROFILE_FLOOR_MS
    ]


def measure(rounds: int, baseline: Baseline | None = None) -> Section:
    section = Section("5", "Start-up")
    env = _env()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="aardbench-lint-") as tmp:
        lint_file = Path(tmp) / "bench_net"
        lint_file.write_text(_LINT_FILE)
        commands = {
            "python -c pass": [python, "-c", "pass"],
            PASS_TTY: [python, "-c", "pass"],
            HELP_PIPE: [python, "-m", "aardcheck", "--help"],
            HELP_TTY: [python, "-m", "aardcheck", "--help"],
            LINT: [python, "-m", "aardcheck", "lint", str(lint_file)],
        }
        where = dict.fromkeys(commands, (env, str(REPO)))
        if baseline is not None:
            old_env = {**env, "PYTHONPATH": str(baseline.tree)}
            for label in (HELP_PIPE, HELP_TTY, LINT):
                commands[BEFORE + label] = commands[label]
                where[BEFORE + label] = (old_env, str(baseline.tree))

        def variant(label: str) -> Sample:
            run_env, cwd = where[label]
            if label.endswith("(terminal)"):
                return _on_pty(commands[label], run_env, cwd)
            return run_timed(commands[label], env=run_env, cwd=cwd)

        runs: dict[str, Callable[[], Sample]] = {
            label: functools.partial(variant, label) for label in commands
        }
        series = alternate(runs, rounds)
        profiles = {
            "--help (pipe)": import_profile(commands[HELP_PIPE], env, 5),
            "lint FILE": import_profile(commands[LINT], env, 5),
        }
    _report(section, series, profiles)
    return section


def _base(label: str) -> str:
    """What a command is measured over: bare Python started the same way (a run on a
    pseudo-terminal costs ~30 ms more here whatever it runs: the pty and its reader)."""
    return PASS_TTY if label.endswith("(terminal)") else "python -c pass"


def _over(series: dict[str, Series], label: str) -> float:
    return statistics.median(paired_differences(series[label], series[_base(label)]))


def _report(
    section: Section, series: dict[str, Series], profiles: dict[str, list[tuple[str, float]]]
) -> None:
    help_pipe = _over(series, HELP_PIPE)
    help_tty = _over(series, HELP_TTY)
    lint = _over(series, LINT)
    section.figure(
        "5a",
        "`aardcheck --help` over `python -c pass` (stdout a pipe: plain help)",
        help_pipe * 1000,
        "ms",
        "<= 100 ms",
        at_most(help_pipe, HELP_LIMIT),
    )
    section.figure(
        "5b",
        "`aardcheck --help` over `python -c pass` (both on a terminal)",
        help_tty * 1000,
        "ms",
        "<= 100 ms",
        at_most(help_tty, HELP_LIMIT),
    )
    section.figure(
        "5c",
        "`aardcheck lint FILE` over `python -c pass`",
        lint * 1000,
        "ms",
        "<= 100 ms",
        at_most(lint, LINT_LIMIT),
    )
    rows = []
    for label, s in series.items():
        base = series[_base(label.removeprefix(BEFORE))]
        over = "" if s is base else ms(statistics.median(paired_differences(s, base)))
        rows.append((label, ms(s.median()), ms(min(s.walls)), ms(s.worst()), over))
    section.table(
        "Wall time of each command (alternating rounds)",
        ("command", "median", "min", "max", "median over python -c pass (started alike)"),
        rows,
    )
    for name, profile in profiles.items():
        section.table(
            f"Import profile of `aardcheck {name}` (cumulative ms, best of 5, >= "
            f"{PROFILE_FLOOR_MS:.0f} ms, two levels)",
            ("module", "ms"),
            [(f"`{module}`", f"{value:.1f}") for module, value in profile],
        )
    section.data = {
        "series": {label: s.summary() for label, s in series.items()},
        "import_profiles": {k: [[m, round(v, 2)] for m, v in p] for k, p in profiles.items()},
    }
