"""Can this machine run the real-podman tests? Reasons when not, for skip or fail."""

from __future__ import annotations

import functools
import os
import shutil
import stat
from pathlib import Path

PODMAN_HELPERS = (Path("/usr/lib/podman/netavark"), Path("/usr/lib/podman/aardvark-dns"))
PODMAN_TOOLS = ("podman", "runc", "iptables", "nsenter", "dig", "ip", "umount")
ROOTLESS_TOOLS = ("runuser", "useradd", "userdel", "usermod", "newuidmap", "newgidmap",
                  "slirp4netns")  # fmt: skip
TUN = Path("/dev/net/tun")
SETUP_HINT = "run scripts/setup-host.sh (as root) to install and configure it"
#: Set to anything to make the harness act as if podman were missing (tests the gate).
NO_PODMAN_ENV = "AARDTEST_NO_PODMAN"


def in_ci() -> bool:
    """True when running in CI (``CI`` set to true/1/yes): missing podman is then a failure."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@functools.cache
def podman_unavailable_reason() -> str | None:
    """Why rootful real-podman tests cannot run here, or None when they can."""
    if os.environ.get(NO_PODMAN_ENV):
        return f"{NO_PODMAN_ENV} is set"
    if os.geteuid() != 0:
        return "real-podman tests need root (rootful podman, netns, useradd)"
    missing = [tool for tool in PODMAN_TOOLS if shutil.which(tool) is None]
    missing += [str(path) for path in PODMAN_HELPERS if not path.exists()]
    if not Path("/bin/busybox").exists():
        missing.append("/bin/busybox")
    if missing:
        return f"missing {', '.join(missing)}: {SETUP_HINT}"
    return None


@functools.cache
def rootless_unavailable_reason() -> str | None:
    """Why rootless real-podman tests cannot run here, or None when they can."""
    reason = podman_unavailable_reason()
    if reason:
        return reason
    missing = [tool for tool in ROOTLESS_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}: {SETUP_HINT}"
    try:
        mode = TUN.stat().st_mode
    except OSError:
        return f"{TUN} is missing (slirp4netns needs it)"
    if stat.S_IMODE(mode) & 0o006 != 0o006:
        return f"{TUN} is not usable by other users (chmod 666): {SETUP_HINT}"
    return None
