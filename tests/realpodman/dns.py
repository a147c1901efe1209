"""Ask a network's aardvark-dns the way its containers do: from a member's netns.

aardvark-dns chooses what to answer by the query's source address, so the probe runs
``dig`` inside a member container's network namespace (``nsenter --net=SANDBOXKEY``;
for a rootless host inside ``podman unshare``, which owns that namespace).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.realpodman.pathdiag import path_report, port53_rows
from tests.realpodman.proc import HarnessError

if TYPE_CHECKING:
    from tests.realpodman.host import PodmanHost


#: dig's exit status when no server replied (timeout, refused).
NO_REPLY = 9
#: How long ``dig`` keeps asking a server that does not reply. aardvark-dns 1.4 answers
#: nobody for 7-8.5 s at a time while netavark keeps reloading it (bench/aardvark_gaps.py),
#: and a CI run on 2026-12-07 saw a silence longer than 10 s after a network re-create.
RETRY_FOR = 20.0
#: How long ``wait_for_answers`` waits for the expected answer.
SETTLE_FOR = 15.0


class DnsProbeError(HarnessError):
    """dig got no answer at all (timeout, refused): different from an empty answer."""


def member_for(host: PodmanHost, network: str) -> str:
    """A running session container on ``network`` to ask from."""
    network = host.session.qualify(network)
    members = [m for m in host.members(network) if host.session.owns(m)]
    if not members:
        raise HarnessError(
            f"no running session container on {network} to ask aardvark-dns from: "
            "run one first or pass via="
        )
    return sorted(members)[0]


def dig(
    host: PodmanHost,
    network: str,
    name: str,
    rdtype: str = "A",
    *,
    via: str | None = None,
    timeout: float = 2.0,
    retry_for: float = RETRY_FOR,
) -> list[str]:
    """Records for ``name`` from ``network``'s aardvark-dns, asked from container ``via``.

    Returns every record in answer order (duplicates kept): addresses for A/AAAA, the
    ``dig +short`` lines otherwise; empty for NXDOMAIN or no data. A query that gets
    no answer at all (``timeout`` seconds per try) is repeated for up to ``retry_for``
    seconds: aardvark-dns stops listening for a moment at every reload (SIGHUP, sent by
    netavark at each container start or stop). Then DnsProbeError, with the daemon's
    state, tells what was wrong.
    """
    network = host.session.qualify(network)
    member = host.container(via or member_for(host, network))
    if not member.running or not member.sandbox_key:
        raise HarnessError(f"container {member.name} is not running: cannot ask from it")
    gateway = host.gateway(network)
    wait = max(1, round(timeout))
    deadline = time.monotonic() + retry_for
    revived = nudged = False
    while True:
        proc = host.unshare(
            "nsenter",
            f"--net={member.sandbox_key}",
            "dig",
            "+short",
            f"+time={wait}",
            "+tries=1",
            f"@{gateway}",
            name,
            rdtype,
            check=False,
            timeout=wait + 30,
        )
        if proc.returncode == 0:
            return _records(proc.stdout, rdtype)
        if proc.returncode == NO_REPLY and not revived and _revive_aardvark(host, member.name):
            revived = True  # once: a dead shared daemon is not what the test is about
            deadline = time.monotonic() + retry_for
            continue
        timed_out = time.monotonic() >= deadline
        if proc.returncode == NO_REPLY and timed_out and not nudged and _rebind(host, gateway):
            nudged = True  # once: aardvark-dns 1.4's lost listener, see _rebind
            deadline = time.monotonic() + retry_for
            continue
        if proc.returncode != NO_REPLY or timed_out:
            raise DnsProbeError(
                f"dig @{gateway} {name} {rdtype} from {member.name} failed "
                f"(exit {proc.returncode}): {(proc.stdout + proc.stderr).strip()}\n"
                f"{aardvark_state(host)}\n{path_report(host, network, member, gateway)}"
            )
        time.sleep(0.2)


def wait_for_answers(
    host: PodmanHost,
    network: str,
    name: str,
    expected: set[str],
    rdtype: str = "A",
    *,
    via: str | None = None,
    timeout: float = SETTLE_FOR,
) -> set[str]:
    """``dig`` until the answer set equals ``expected`` or ``timeout`` passes; the last set.

    aardvark-dns reloads its files asynchronously after netavark's SIGHUP: right after
    a container starts, an answer may not include it yet. Assert on the returned set.
    """
    deadline = time.monotonic() + timeout
    while True:
        answers = set(dig(host, network, name, rdtype, via=via))
        if answers == expected or time.monotonic() >= deadline:
            return answers
        time.sleep(0.2)


def _records(stdout: str, rdtype: str) -> list[str]:
    records = [line.strip() for line in stdout.splitlines() if line.strip()]
    records = [r for r in records if not r.startswith(";")]
    if rdtype.upper() in ("A", "AAAA"):
        return [r for r in records if _is_address(r)]
    return records


def _revive_aardvark(host: PodmanHost, member: str) -> bool:
    """Restart the host's aardvark-dns if it is dead (gone or a zombie: PID 1 here does
    not reap, so netavark would keep signalling the zombie). Removing the stale pid file
    and reloading one member makes netavark start a fresh one, as at first use."""
    if _aardvark_pid(host) is not None:
        return False  # alive: a slow reload, not a death
    (host.aardvark_dir / "aardvark.pid").unlink(missing_ok=True)
    return host.podman("network", "reload", member, check=False).returncode == 0


def _rebind(host: PodmanHost, gateway: str) -> bool:
    """SIGHUP the host's aardvark-dns when it is alive and nothing in its namespace has a
    socket on ``gateway``; True when it was sent.

    aardvark-dns before 1.11 closes every listener at each reload and binds them all again
    (containers/aardvark-dns#389, fixed by #449); a bind that fails - the gateway address
    not usable at that moment - is not retried until the next SIGHUP, so a network can
    stay without DNS while its members come and go elsewhere. (The silence seen after a
    re-create in full CI runs was not this: the socket was up, see
    docs/tested-failures.md.) A reload reads the files as they are: it changes nothing
    the tests look at."""
    pid = _aardvark_pid(host)
    if pid is None or gateway in listening(pid):
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return False
    print(f"aardvark-dns {pid} had no socket on {gateway}: sent SIGHUP", file=sys.stderr)
    return True


def _aardvark_pid(host: PodmanHost) -> int | None:
    """The host's aardvark-dns pid when it runs (not gone, not a zombie: PID 1 here does
    not reap)."""
    try:
        pid = int((host.aardvark_dir / "aardvark.pid").read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return None if stat[stat.rindex(")") + 2] in "ZX" else pid


def listening(pid: int) -> set[str]:
    """Addresses with a UDP socket on port 53 in the network namespace of process ``pid``
    (``/proc/PID/net`` shows that namespace's sockets, whoever holds them: for
    aardvark-dns's pid, the host's or the rootless one)."""
    return set(port53_sockets(pid))


def port53_sockets(pid: int) -> dict[str, tuple[int, int]]:
    """Address -> (bytes queued unread, datagrams dropped) of the UDP port-53 sockets in
    ``pid``'s network namespace."""
    return {s.address: (s.queued, s.drops) for s in port53_rows(f"/proc/{pid}/net")}


def aardvark_state(host: PodmanHost) -> str:
    """One paragraph on the host's aardvark-dns: pid file, process, files (diagnostics)."""
    directory = host.aardvark_dir
    try:
        pid_text = (directory / "aardvark.pid").read_text().strip()
    except OSError as err:
        return f"aardvark-dns state: no pid file in {directory} ({err.strerror})"
    try:
        comm = Path(f"/proc/{int(pid_text)}/comm").read_text().strip()
        stat = Path(f"/proc/{int(pid_text)}/stat").read_text()
        process = f"{comm}, state {stat[stat.rindex(')') + 2]}"
    except (OSError, ValueError):
        process = "not running"
    try:
        files = sorted(p.name for p in directory.iterdir())
    except OSError:
        files = []
    pid = _aardvark_pid(host)
    ports = port53_sockets(pid) if pid is not None else {}
    sockets = ", ".join(
        a + (f" (queued {q} B, dropped {d})" if q or d else "")
        for a, (q, d) in sorted(ports.items())
    )
    return (
        f"aardvark-dns state: pid file {pid_text!r} ({process}); listening on: {sockets or '-'}; "
        f"files: {', '.join(files)}"
    )


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
