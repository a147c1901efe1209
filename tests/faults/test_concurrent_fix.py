"""Several repairs at once: one waits (or refuses when the wait is over), and the file is
never torn, never loses an edit, and never holds anything but whole lines.

Without podman: processes that each prune a different stopped container from one file,
all released at the same moment, while the file is sampled. With real podman: two
``aardcheck fix --yes`` at once on a network with a stale line while containers come and
go on it, the file sampled under netavark's own locks.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aardcheck.errors import ApiTimeout, ExitCode
from aardcheck.format.parse import parse_network_file
from aardcheck.models import AardvarkVersion, Container, RunDir, Scope
from aardcheck.repair.apply import HostAccess, apply_plan
from aardcheck.repair.locks import LockTimeout, netavark_locks, podman_lock_path
from aardcheck.repair.plan import PruneLines, RepairPlan
from tests.faults.fake_api import Attachment, FakeContainer, hex_id
from tests.faults.sandbox import GATEWAY, NET, OLD, REPO_ROOT, WEB, WEB_LINE, make_sandbox
from tests.realpodman import PodmanHost, run_aardcheck, wait_until

V1_4 = AardvarkVersion(1, 4)
WORKERS = 8

#: One repair process: waits for the start signal, prunes its container, prints the change.
WORKER = """
import json, os, sys, threading, time
from pathlib import Path
from aardcheck.models import AardvarkVersion, RunDir, Scope
from aardcheck.sources.podman_json import containers_from_compat
from aardcheck.repair.apply import HostAccess, apply_plan
from aardcheck.repair.plan import PruneLines, RepairPlan
job = json.loads(sys.argv[1])
run_dir = Path(job["run_dir"])
access = HostAccess(
    run_dir=RunDir(run_dir, Scope.ROOTLESS, os.stat(run_dir).st_uid),
    version=AardvarkVersion(1, 4),
    podman_lock=Path(job["podman_lock"]),
    network_config_dir=Path(job["config_dir"]),
    fresh_containers=lambda: containers_from_compat(job["containers"]),
    lock_timeout=60,
)
action = PruneLines(job["network"], job["path"], job["id"], (), (), "stopped-entry")
go = Path(job["go"])
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    threading.Event().wait(0.001)
changes = apply_plan(RepairPlan((action,), ()), access)
print(json.dumps([[c.action, c.status, c.detail] for c in changes]))
"""


def _stopped(i: int) -> FakeContainer:
    return FakeContainer(
        hex_id(f"s{i}"), f"s{i}", "exited", (Attachment(NET, f"10.99.7.{10 + i}", (), GATEWAY),)
    )


def _line(c: FakeContainer) -> bytes:
    return f"{c.id} {c.attachments[0].ip}  {c.name},{c.id[:12]}\n".encode()


class Sampler:
    """Reads a file over and over in a thread; every sample must parse as aardvark's."""

    def __init__(self, read: Callable[[], bytes | None], must_hold: bytes) -> None:
        self.read = read
        self.must_hold = must_hold
        self.samples = 0
        self.problems: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            content = self.read()
            if content is not None:
                self.samples += 1
                parsed = parse_network_file(Path("sample"), content, V1_4)
                if parsed.defect is not None or self.must_hold not in content:
                    self.problems.append(repr(content[:400]))
            self.stop.wait(0.002)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.mark.parametrize("round_no", range(3))
def test_parallel_repairs_lose_no_edit_and_never_tear(tmp_path: Path, round_no: int) -> None:
    stopped = [_stopped(i) for i in range(WORKERS)]
    content = f"{GATEWAY}\n".encode() + WEB_LINE + b"".join(_line(c) for c in stopped)
    box = make_sandbox(tmp_path, content)
    target = box.dns_dir / NET
    go = tmp_path / "go"
    procs = []
    for c in stopped:
        job = {
            "run_dir": str(box.run_dir),
            "podman_lock": str(box.graph_root / "networks" / "netavark.lock"),
            "config_dir": str(box.graph_root / "networks"),
            "containers": [x.compat() for x in [WEB, *stopped]],
            "network": NET,
            "path": str(target),
            "id": c.id,
            "go": str(go),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(job)],
                env=box.env(),
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    with Sampler(target.read_bytes, WEB_LINE) as sampler:
        go.touch()  # every worker starts its repair now
        outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    statuses = [json.loads(out)[0][1] for out, _ in outputs]
    assert statuses == ["done"] * WORKERS, outputs  # each waited its turn, none was refused
    assert target.read_bytes() == f"{GATEWAY}\n".encode() + WEB_LINE  # no edit lost
    assert sampler.samples > 0 and sampler.problems == []
    assert not [p for p in box.run_dir.iterdir() if p.name.startswith(".aardcheck-")]


def test_lock_held_past_the_wait_refuses_as_busy(tmp_path: Path) -> None:
    """Another holder keeps aardvark.lock: the repair gives up after its bounded wait,
    exit code 5 (busy), and the file is untouched."""
    box = make_sandbox(tmp_path)
    target = box.dns_dir / NET
    before = target.read_bytes()
    access = HostAccess(
        run_dir=RunDir(box.run_dir, Scope.ROOTLESS, os.stat(box.run_dir).st_uid),
        version=V1_4,
        podman_lock=box.graph_root / "networks" / "netavark.lock",
        network_config_dir=box.graph_root / "networks",
        fresh_containers=lambda: (),
        lock_timeout=0.3,
    )
    action = PruneLines(NET, str(target), OLD.id, ("old",), (3,), "stopped-entry")
    holder = subprocess.Popen(
        ["flock", str(box.run_dir / "aardvark.lock"), "sleep", "60"], stdin=subprocess.DEVNULL
    )
    try:
        wait_until(
            lambda: _flock_held(box.run_dir / "aardvark.lock"), timeout=20, what="the holder"
        )
        started = time.monotonic()
        with pytest.raises(LockTimeout) as refused:
            apply_plan(RepairPlan((action,), ()), access)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert refused.value.exit_code == ExitCode.BUSY
    assert "aardvark.lock" in str(refused.value) and "try again" in str(refused.value)
    assert target.read_bytes() == before


def test_listing_that_waits_for_podman_lets_go_of_the_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """podman 5.4: a request holding a container's lock waits for the netavark lock, so
    the listing under that lock cannot answer. The repair lets go of both locks while it
    waits (the waiting podman gets them), asks again, and prunes; when podman never lets
    go it is busy (exit 5) within its bound, never stuck for the API's whole timeout."""
    box = make_sandbox(tmp_path)
    target = box.dns_dir / NET
    lock = box.run_dir / "aardvark.lock"
    held_while_listing: list[bool] = []
    held_while_waiting: list[bool] = []
    real_sleep = time.sleep

    def waiting(seconds: float) -> None:
        held_while_waiting.append(_flock_held(lock))
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", waiting)

    def listing(fail: int) -> Callable[[], tuple[Container, ...]]:
        calls = itertools.count()

        def fresh() -> tuple[Container, ...]:
            held_while_listing.append(_flock_held(lock))
            if next(calls) < fail:  # podman's own lock-order wait, as the client sees it
                raise ApiTimeout("podman API at unix:///x: /containers/json failed: timed out")
            return ()

        return fresh

    def access(fresh: Callable[[], tuple[Container, ...]], wait: float) -> HostAccess:
        return HostAccess(
            run_dir=RunDir(box.run_dir, Scope.ROOTLESS, os.stat(box.run_dir).st_uid),
            version=V1_4,
            podman_lock=box.graph_root / "networks" / "netavark.lock",
            network_config_dir=box.graph_root / "networks",
            fresh_containers=fresh,
            lock_timeout=wait,
        )

    action = PruneLines(NET, str(target), OLD.id, ("old",), (3,), "stopped-entry")
    before = target.read_bytes()
    started = time.monotonic()
    with pytest.raises(LockTimeout) as refused:
        apply_plan(RepairPlan((action,), ()), access(listing(fail=10**6), wait=4.0))
    assert time.monotonic() - started < 8
    assert refused.value.exit_code == ExitCode.BUSY
    assert "kept its containers busy" in str(refused.value)
    assert target.read_bytes() == before

    (change, *_) = apply_plan(RepairPlan((action,), ()), access(listing(fail=2), wait=30.0))
    assert change.status == "done", change
    assert OLD.id.encode() not in target.read_bytes()
    assert held_while_listing and all(held_while_listing)
    assert held_while_waiting and not any(held_while_waiting)


def _flock_held(path: Path) -> bool:
    import fcntl

    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# --------------------------------------------------------------------------- real podman


def _locked_reader(host: PodmanHost, path: Path) -> Callable[[], bytes | None]:
    """Read ``path`` under podman's and netavark's locks, as every writer takes them:
    netavark's own teardown rewrites the file in place, so only a locked read is
    guaranteed to see a state some writer meant to leave."""
    version = host.podman("version", "--format", "{{.Client.Version}}").stdout.strip()
    podman_lock = podman_lock_path(rootless=False, podman_version=version, graph_root=Path())
    lock = host.network_run_dir / "aardvark.lock"

    def read() -> bytes | None:
        try:
            with netavark_locks(podman_lock, lock, timeout=10):
                return path.read_bytes()
        except (FileNotFoundError, LockTimeout):
            return None

    return read


def test_two_real_fixes_at_once_while_containers_come_and_go(
    rootful_host: PodmanHost, net_name: Callable[[str], str]
) -> None:
    host = rootful_host
    net = host.network_create(net_name("race"))
    live = host.run(net_name("rlive"), {net: ["app"]})
    old = host.run(net_name("rold"), {net: ["app"]})
    stale = host.make_natural_stale(old.name)
    path = host.aardvark_file(net)
    live_line = next(x for x in host.aardvark_lines(net) if x.startswith(live.id)).encode()
    results: list[subprocess.CompletedProcess[str]] = []
    churn_errors: list[str] = []

    def fix() -> None:
        args = ("fix", "--yes", "--no-probe", "--format", "json", "--network", net)
        results.append(run_aardcheck(*args, host=host))

    prefix = stale.ips[net].rsplit(".", 1)[0]

    def churn() -> None:
        try:  # static addresses: the dead one must stay dead (a reused one is not stale)
            for i in range(5):
                joined = host.run(net_name(f"churn{i}"), {net: ["churn"]}, ip=f"{prefix}.{200 + i}")
                host.rm(joined.name)
        except Exception as err:  # reported below; the thread must not die silently
            churn_errors.append(str(err))

    threads = [threading.Thread(target=t) for t in (churn, fix, fix)]
    with Sampler(_locked_reader(host, path), live_line) as sampler:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=400)
    assert churn_errors == [] and not any(t.is_alive() for t in threads)
    assert sampler.samples > 10 and sampler.problems == [], sampler.problems[:3]
    codes = {r.returncode for r in results}
    assert codes <= {ExitCode.CLEAN, ExitCode.FINDINGS, ExitCode.BUSY}, [r.stderr for r in results]
    docs: list[Any] = [json.loads(r.stdout) for r in results if r.stdout]
    pruned = [
        c
        for d in docs
        for c in d["changes"]
        if c["action"] == "prune-lines" and c["status"] == "done"
    ]
    assert len(pruned) == 1, [r.stderr for r in results]  # one did it, the other found it done
    assert stale.container_id not in host.aardvark_ids(net)
    assert live_line.decode() in host.aardvark_lines(net)
    assert not [p for p in host.network_run_dir.iterdir() if p.name.startswith(".aardcheck-")]
    # once the churn is over, the file holds exactly the live container's line
    assert host.aardvark_lines(net) == [live_line.decode()]


def test_container_removed_before_its_reload_is_not_a_failure(tmp_path: Path) -> None:
    """A running container's line is rewritten by ``podman network reload``; when podman
    removed the container in between, there is nothing left to repair: skipped, not 4."""
    box = make_sandbox(tmp_path, f"{GATEWAY}\n".encode())  # web runs, but has no line
    gone = 'Error: no container with name or ID "x" found: no such container\n'
    with box.api(box.fake()) as url:
        proc = box.run(
            "fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir,
            env={"FAKE_PODMAN_EXIT": "125", "FAKE_PODMAN_STDERR": gone},
        )  # fmt: skip
    assert box.podman_calls() == [["network", "reload", WEB.id]]
    assert "skipped reload-container" in proc.stderr and "removed meanwhile" in proc.stderr
    assert proc.returncode == ExitCode.FINDINGS, proc.stderr  # the missing line remains


def test_file_replaced_during_the_repair_is_not_clobbered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that ignores the locks puts a new file in place while the repair writes
    its temp copy: the repair's rename would throw that writer's edit away, so it is not
    done ("replaced meanwhile"); the writer's file stays."""
    box = make_sandbox(tmp_path)
    target = box.dns_dir / NET
    theirs = f"{GATEWAY}\n".encode() + WEB_LINE + _line(_stopped(1))
    real_fsync = os.fsync
    replaced: list[bool] = []

    def fsync_then_replace(fd: int) -> None:
        real_fsync(fd)
        if not replaced:  # right after the temp copy is written, before the rename
            replaced.append(True)
            staged = box.run_dir / "writer.tmp"
            staged.write_bytes(theirs)
            staged.rename(target)

    monkeypatch.setattr(os, "fsync", fsync_then_replace)
    access = HostAccess(
        run_dir=RunDir(box.run_dir, Scope.ROOTLESS, os.stat(box.run_dir).st_uid),
        version=V1_4,
        podman_lock=box.graph_root / "networks" / "netavark.lock",
        network_config_dir=box.graph_root / "networks",
        fresh_containers=lambda: (),
        lock_timeout=2.0,
    )
    action = PruneLines(NET, str(target), OLD.id, ("old",), (3,), "stopped-entry")
    (change,) = apply_plan(RepairPlan((action,), ()), access)
    monkeypatch.undo()
    assert replaced and change.status == "skipped" and "replaced meanwhile" in change.detail
    assert target.read_bytes() == theirs
    assert not [p for p in box.run_dir.iterdir() if p.name.startswith(".aardcheck-")]
