"""The busybox test image, imported from Debian's static busybox (no registry needed)."""

from __future__ import annotations

import os
import shutil
import tarfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tests.realpodman.proc import HarnessError
from tests.realpodman.session import IMAGE

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost

BUSYBOX = Path("/bin/busybox")
#: Applets linked in /bin of the image. An image of this name made by someone else may
#: hold only ENVIRONMENT.md's set (sh sleep nslookup cat ls ip wget httpd nc): the
#: harness itself uses only those.
APPLETS = (
    "sh", "sleep", "nslookup", "cat", "ls", "ip", "wget", "httpd", "nc", "true", "false",
    "echo", "hostname", "ping", "kill", "ps",
)  # fmt: skip

_lock = threading.Lock()


def image_tar(workdir: Path) -> Path:
    """The image's root filesystem as a tar in ``workdir`` (built once, world-readable)."""
    tar_path = workdir / "aardtest-bb.tar"
    with _lock:
        if tar_path.exists():
            return tar_path
        if not BUSYBOX.exists():
            raise HarnessError(f"{BUSYBOX} is missing: apt-get install busybox-static")
        partial = workdir / "aardtest-bb.tar.partial"
        with tarfile.open(partial, "w") as tar:
            tar.add(BUSYBOX, arcname="bin/busybox")
            for applet in APPLETS:
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type = tarfile.SYMTYPE
                info.linkname = "busybox"
                tar.addfile(info)
            for directory in ("tmp", "etc", "proc", "sys", "dev", "run"):
                info = tarfile.TarInfo(directory)
                info.type = tarfile.DIRTYPE
                info.mode = 0o1777 if directory == "tmp" else 0o755
                tar.addfile(info)
        os.chmod(partial, 0o644)
        shutil.move(partial, tar_path)
        return tar_path


def ensure_image(host: PodmanHost) -> str:
    """Import ``IMAGE`` into the host's store unless it is there; returns its name."""
    if host.podman("image", "exists", IMAGE, check=False).returncode == 0:
        return IMAGE
    host.podman("import", "--quiet", image_tar(host.session.workdir), IMAGE, timeout=180)
    return IMAGE
