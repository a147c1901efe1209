"""The podman API absent, refusing, failing, dying mid-run; podman not installed.

Each case: exit 3 with one line naming the cause, nothing on stdout, and no file of the
run directory changed (``fix`` included: it must not act on a half-read host).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aardcheck.errors import ExitCode
from tests.faults.fake_api import Reply, error_reply
from tests.faults.sandbox import NET, NET_FILE, Sandbox, make_sandbox, one_error_line
from tests.realpodman import PodmanHost, wait_until
from tests.realpodman.api import ping

COMMANDS = (("check", "--no-probe"), ("fix", "--yes", "--no-probe"))


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def _assert_environment_error(
    box: Sandbox, proc: subprocess.CompletedProcess[str], *needles: str
) -> str:
    assert proc.returncode == ExitCode.ENVIRONMENT, proc.stdout + proc.stderr
    assert proc.stdout == ""
    line = one_error_line(proc)
    for needle in needles:
        assert needle in line, line
    assert box.podman_calls() == [] or all(
        c[:2] == ["system", "service"] for c in box.podman_calls()
    )
    return line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_api_socket_absent(box: Sandbox, command: tuple[str, ...]) -> None:
    before = box.state()
    url = f"unix://{box.root / 'absent.sock'}"
    proc = box.run(*command, "--url", url, "--run-dir", box.run_dir)
    _assert_environment_error(box, proc, "does not answer", url)
    assert box.state() == before


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_api_socket_refusing(box: Sandbox, command: tuple[str, ...]) -> None:
    """A socket file nobody accepts on (a crashed service leaves exactly that)."""
    path = box.root / "refusing.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(path))  # bound, never listening: connect() is refused
        before = box.state()
        proc = box.run(*command, "--url", f"unix://{path}", "--run-dir", box.run_dir)
        _assert_environment_error(box, proc, "does not answer", str(path))
        # the default socket refusing: aardcheck tries a private service, says why not
        env = {"CONTAINER_HOST": f"unix://{path}"}
        proc = box.run(*command, "--run-dir", box.run_dir, env=env)
        _assert_environment_error(box, proc, "podman system service")
        assert box.state() == before


@pytest.mark.parametrize(
    ("route", "endpoint"),
    [
        ("info", "/info"),
        ("containers", "/containers/json"),
        ("compat-containers", "/containers/json"),
        ("networks", "/networks/json"),
    ],
)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_api_answering_errors(
    box: Sandbox, command: tuple[str, ...], route: str, endpoint: str
) -> None:
    fake = box.fake()
    fake.faults[route] = error_reply(500, "database is locked")
    before = box.state()
    with box.api(fake) as url:
        proc = box.run(*command, "--url", url, "--run-dir", box.run_dir)
    _assert_environment_error(box, proc, endpoint, "500", "database is locked", url)
    assert box.state() == before


@pytest.mark.parametrize(
    "reply",
    [Reply(200, b"{not json"), Reply(200, b""), Reply(hang_up=True), Reply(502, b"<html>")],
    ids=["garbage", "empty", "hang-up", "proxy-error"],
)
def test_api_answering_nonsense(box: Sandbox, reply: Reply) -> None:
    fake = box.fake()
    fake.faults["containers"] = reply
    before = box.state()
    with box.api(fake) as url:
        for command in COMMANDS:
            proc = box.run(*command, "--url", url, "--run-dir", box.run_dir)
            _assert_environment_error(box, proc, "/containers/json", url)
    assert box.state() == before


def test_api_answering_the_wrong_shape(box: Sandbox) -> None:
    fake = box.fake()
    fake.faults["containers"] = Reply(200, b'{"cause": "not a list"}')
    with box.api(fake) as url:
        proc = box.run("check", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    _assert_environment_error(box, proc, "/containers/json")


def test_api_error_with_a_newline_stays_one_line(box: Sandbox) -> None:
    fake = box.fake()
    fake.faults["networks"] = error_reply(500, "first line\nsecond line")
    with box.api(fake) as url:
        proc = box.run("check", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    _assert_environment_error(box, proc, "/networks/json")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_api_killed_after_host_info(box: Sandbox, command: tuple[str, ...]) -> None:
    fake = box.fake()
    fake.faults["info"] = Reply(then_die=True)
    before = box.state()
    with box.api(fake) as url:
        proc = box.run(*command, "--url", url, "--run-dir", box.run_dir)
    _assert_environment_error(box, proc, url, "/containers/json")
    assert fake.requests == ["ping", "info"]  # nothing after the service died
    assert box.state() == before


LOCKS = frozenset({"aardvark.lock", "netavark.lock"})


@pytest.mark.parametrize(
    ("route", "skip", "hang_up"),
    [("info", 1, False), ("containers", 1, True)],
    ids=["before-the-locks", "under-the-locks"],
)
def test_api_killed_during_fix(box: Sandbox, route: str, skip: int, hang_up: bool) -> None:
    """Dies after the plan: at the host lookup before the locks, or during the re-check of
    podman's state under them (its one libpod listing). Nothing is written, and both
    locks are released."""
    fake = box.fake()
    fake.faults[route] = Reply(then_die=True, skip=skip, hang_up=hang_up)
    before = box.state(skip=LOCKS)
    with box.api(fake) as url:
        proc = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    _assert_environment_error(box, proc, url)
    # the request that killed it, and at most one resend: a GET whose kept-alive
    # connection closed without an answer is sent once more on a new one
    assert fake.requests.count(route) in (skip + 1, skip + 2)
    assert box.state(skip=LOCKS) == before
    assert (box.dns_dir / NET).read_bytes() == NET_FILE
    if route == "containers":  # the locks were taken: they must be free again
        fd = os.open(box.run_dir / "aardvark.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held
        finally:
            os.close(fd)


def test_api_killed_after_the_repair_still_reports_it(box: Sandbox) -> None:
    fake = box.fake()
    fake.faults["info"] = Reply(then_die=True, skip=2)  # the third /info: verification
    with box.api(fake) as url:
        proc = box.run("fix", "--yes", "--no-probe", "--url", url, "--run-dir", box.run_dir)
    assert b"old," not in (box.dns_dir / NET).read_bytes()  # the prune happened
    assert proc.returncode == ExitCode.REPAIR_INCOMPLETE, proc.stderr
    assert "prune-lines" in proc.stdout + proc.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_podman_not_installed(box: Sandbox, command: tuple[str, ...]) -> None:
    """No podman on PATH and nothing at the socket: exit 3, one line, said plainly."""
    empty = box.root / "empty-bin"
    empty.mkdir()
    env = box.env({"PATH": str(empty), "CONTAINER_HOST": f"unix://{box.root / 'no.sock'}"})
    before = box.state()
    proc = box.run(*command, "--run-dir", box.run_dir, full_env=env)
    _assert_environment_error(box, proc, "podman is not installed")
    assert box.state() == before


# --------------------------------------------------------------------------- real podman


@pytest.fixture
def killable_api(rootful_host: PodmanHost) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real ``podman system service`` of our own (so a test may kill it)."""
    directory = rootful_host.session.scratch_dir("killapi-")
    path = directory / "api.sock"
    service = subprocess.Popen(
        rootful_host.command(["podman", "system", "service", "--time=0", f"unix://{path}"]),
        env=rootful_host.process_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def stop() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.pid, signal.SIGKILL)
        service.wait(timeout=30)

    rootful_host.session.add_finalizer(stop)
    try:
        wait_until(lambda: ping(path), timeout=30, what=f"podman system service on {path}")
        yield f"unix://{path}", service
    finally:
        stop()
        rootful_host.session.remove_finalizer(stop)


@pytest.mark.parametrize("command", ["check", "fix"])
def test_real_api_killed_after_host_info(
    rootful_host: PodmanHost,
    net_name: Callable[[str], str],
    killable_api: tuple[str, subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    """Real podman's API is SIGKILLed right after aardcheck asked it for the host."""
    from aardcheck.cli import app as cli
    from aardcheck.sources.podman_api import PodmanSession
    from aardcheck.sources.podman_host import HostInfo

    url, service = killable_api
    net = rootful_host.network_create(net_name("kill"))
    old = rootful_host.run(net_name("kold"), {net: ["app"]})
    rootful_host.make_natural_stale(old.name)  # something a fix would prune
    rootful_host.run(net_name("knew"), {net: ["app"]})
    before = rootful_host.read_aardvark_file(net)
    real_host_info = PodmanSession.host_info

    def then_killed(self: PodmanSession) -> HostInfo:
        info = real_host_info(self)
        os.killpg(service.pid, signal.SIGKILL)
        service.wait(timeout=30)
        return info

    monkeypatch.setattr(PodmanSession, "host_info", then_killed)
    with pytest.raises(SystemExit) as ended:
        if command == "check":
            cli.check(network=[net], no_probe=True, url=url)
        else:
            cli.fix(network=[net], yes=True, no_probe=True, url=url)
    out = capsys.readouterr()
    assert ended.value.code == ExitCode.ENVIRONMENT
    assert out.out == ""
    (line,) = out.err.strip().splitlines()
    assert line.startswith("aardcheck: error: podman API at ") and url in line, line
    assert rootful_host.read_aardvark_file(net) == before
