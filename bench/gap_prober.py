"""Run inside a container's network namespace by ``bench/aardvark_gaps.py`` (stdlib only).

Asks aardvark-dns at GATEWAY for NAME (A) every ``PACE`` seconds for SECONDS, two ways
side by side: ``same`` keeps one socket and resends the same message every ``RESEND``
seconds until answered; ``fresh`` sends each copy from a new socket (a new source port,
so a new conntrack flow). Each round gives up after ``GIVE_UP`` seconds. Prints one JSON
object: per way, the rounds as ``[started_s, answered_ms or null, copies]``.
"""

from __future__ import annotations

import json
import random
import select
import socket
import sys
import threading
import time

PACE = 0.05
RESEND = 0.1
GIVE_UP = 2.0


def _question(qid: int, name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return qid.to_bytes(2, "big") + bytes.fromhex("01000001000000000000") + labels + b"\0\1\0\1"


def _connected(gateway: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((gateway, 53))
    return sock


def _rounds(way: str, gateway: str, name: str, seconds: float, t0: float) -> list[list[object]]:
    rounds: list[list[object]] = []
    kept = _connected(gateway) if way == "same" else None
    while time.monotonic() - t0 < seconds:
        start = time.monotonic()
        message = _question(random.randrange(65536), name)
        socks: list[socket.socket] = [kept] if kept else []
        copies, answered = 0, None
        while answered is None and time.monotonic() - start < GIVE_UP:
            if kept is None:
                socks.append(_connected(gateway))
            try:
                socks[-1].send(message)
                copies += 1
            except OSError:
                pass
            until = time.monotonic() + RESEND
            while answered is None and time.monotonic() < until:
                ready, _, _ = select.select(socks, [], [], max(0.0, until - time.monotonic()))
                for sock in ready:
                    try:
                        reply = sock.recv(512)
                    except OSError:
                        continue
                    if reply[:2] == message[:2]:
                        answered = (time.monotonic() - start) * 1000
        if kept is None:
            for sock in socks:
                sock.close()
        waited = None if answered is None else round(answered, 1)
        rounds.append([round(start - t0, 3), waited, copies])
        time.sleep(PACE)
    return rounds


def main() -> None:
    gateway, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    t0 = time.monotonic()
    result: dict[str, list[list[object]]] = {}

    def run(way: str) -> None:
        result[way] = _rounds(way, gateway, name, seconds, t0)

    threads = [threading.Thread(target=run, args=(way,)) for way in ("same", "fresh")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
