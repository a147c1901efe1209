"""Reading a process's files under /proc, for the paths a long-lived watcher reads again
and again (a container's /proc/PID/stat, its children, a command line).

Plain ``open`` on a string rather than ``pathlib``: a Path interns every part of itself
(``sys.intern``), and under churn each pid and thread id is a new string. The dying
strings leave the interpreter's table of interned strings full of holes, which it then
rebuilds at full size again and again: a 1.9 MB block allocated anew every few minutes in
the watcher (tracemalloc, soak D in docs/benchmarks.md), a 1.9 MiB step in its resident
memory until the next trim.
"""

from __future__ import annotations


def read_proc(pid: int, name: str) -> bytes:
    """The whole of ``/proc/PID/NAME`` (OSError when the process or the file is gone)."""
    with open(f"/proc/{pid}/{name}", "rb") as file:
        return file.read()
