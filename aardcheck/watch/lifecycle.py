"""``run_watch``: start the watcher as a service, end it cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from aardcheck.errors import UsageError
from aardcheck.watch.metrics import MetricsServer, WatchMetrics
from aardcheck.watch.options import WatchOptions
from aardcheck.watch.output import Reporter
from aardcheck.watch.service import Watcher


@contextmanager
def _stop_on_signals(watcher: Watcher, reporter: Reporter) -> Iterator[None]:
    """SIGTERM (systemd) and SIGINT (a terminal) both end the loop; the handler only
    sets the stop flag under the loop's (re-entrant) Condition, the main thread does the
    rest, logging included."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals can only be handled on the main thread (tests drive stop())
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        # No logging here: the main thread may be inside the reporter's lock right now.
        watcher.stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def _serve(metrics: WatchMetrics, address: str, port: int) -> MetricsServer:
    try:
        return metrics.serve(address, port)
    except OSError as err:  # port taken, address not local: the user's to fix
        raise UsageError(
            f"cannot serve metrics on {address}:{port}: {err.strerror or err}"
        ) from err


def run_watch(options: WatchOptions, reporter: Reporter | None = None) -> int:
    """Run until stopped; returns the exit code (0 after a clean stop)."""
    reporter = reporter or Reporter(json_output=options.json_output, verbose=options.verbose)
    metrics = WatchMetrics()
    watcher = Watcher(options, reporter, metrics=metrics)
    server: MetricsServer | None = None
    with _stop_on_signals(watcher, reporter):
        try:
            if options.metrics_port is not None:
                server = _serve(metrics, options.metrics_address, options.metrics_port)
                reporter.info(f"metrics on {server.url}")
            watcher.run()
        finally:
            left = watcher.close()
            if server is not None:
                server.close()
            if left:
                reporter.warning(f"threads still running at exit: {', '.join(left)}")
            reporter.info("stopped")
    return 0
