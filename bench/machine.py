"""What the figures were measured on: machine, load, versions of everything involved."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("typer", "pydantic", "rich", "podman", "dnspython", "watchdog")
HELPERS = (Path("/usr/lib/podman/netavark"), Path("/usr/lib/podman/aardvark-dns"))


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unavailable ({err})"
    text = done.stdout.strip() or done.stderr.strip()
    return text.splitlines()[0] if text else f"exit {done.returncode}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mib() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None


def _distribution() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def python_speed() -> float:
    """CPU seconds of a plain 10-million-step Python loop (best of 3): a yardstick to
    compare this machine's speed with another's."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.process_time() - started)
    return round(best, 3)


def describe() -> dict[str, object]:
    """Machine and versions, as one JSON-able dict."""
    versions: dict[str, str] = {
        "python": sys.version.split()[0],
        "podman": _first_line(["podman", "--version"]),
        "runc": _first_line(["runc", "--version"]),
    }
    for helper in HELPERS:
        versions[helper.name] = _first_line([str(helper), "--version"])
    for package in PACKAGES:
        key = f"python-{package}" if package == "podman" else package
        try:
            versions[key] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[key] = "not installed"
    try:
        versions["aardcheck"] = metadata.version("aardcheck")
    except metadata.PackageNotFoundError:
        versions["aardcheck"] = "working tree"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mib": _memory_mib(),
        "kernel": platform.release(),
        "distribution": _distribution(),
        "load_average_at_start": [round(x, 2) for x in load_average()],
        "python_loop_10m_cpu_s": python_speed(),
        "versions": versions,
    }
