"""The watcher: events in, debounced checks, transitions out, safe repairs, metrics.

The main loop (``run``) decides when to check; each check runs on a worker thread, one at
a time, while the main thread keeps serving stop requests and the systemd watchdog.
watchdog's and the podman event thread only record requests through ``WorkSignal``.
Whatever a check raises is reported and retried with back-off; the loop only ends when
``stop`` is called.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from aardcheck.errors import AardcheckError, UsageError
from aardcheck.findings import CheckResult, Finding
from aardcheck.models import RunDir
from aardcheck.runner.check import check_with
from aardcheck.sources.podman_api import PodmanSession
from aardcheck.watch import early
from aardcheck.watch.answer import AnswerServer, AnswerState
from aardcheck.watch.directories import DirectoryWatch, guess_dirs
from aardcheck.watch.followups import (
    CONFIRM_AFTER,
    CONFIRM_SILENT,
    WATCH_LIVENESS_TIMEOUT,
    ContainerTransit,
    LookAgain,
    liveness_wait,
    retry_delay,
    to_confirm,
)
from aardcheck.watch.heap import Heap, glibc
from aardcheck.watch.link import PodmanLink
from aardcheck.watch.lookahead import LookAhead
from aardcheck.watch.metrics import WatchMetrics, write_textfile
from aardcheck.watch.notify import SystemdNotifier
from aardcheck.watch.options import WatchOptions
from aardcheck.watch.output import Reporter, check_line, describe_error, ready_line
from aardcheck.watch.podman_events import FINISHED, PodmanEvent, PodmanEventStream, StreamHealth
from aardcheck.watch.repairs import Repairer
from aardcheck.watch.routing import CheckScope, known_networks, memberships, scope_of
from aardcheck.watch.schedule import Backoff, Batch, Debouncer, RepairGate, Timetable
from aardcheck.watch.transitions import FindingTracker, Transition
from aardcheck.watch.wakeup import WorkSignal

#: After a stop request, how long a check in progress may still take before the watcher
#: exits without it (podman can block a listing for tens of seconds on a busy host).
STOP_GRACE = 3.0


class Watcher:
    def __init__(
        self,
        options: WatchOptions,
        reporter: Reporter,
        *,
        notifier: SystemdNotifier | None = None,
        metrics: WatchMetrics | None = None,
    ) -> None:
        #: a cold check's ARP/NDP wait, used where the watcher's short one found silence
        self.cold_wait = options.check.liveness_timeout
        liveness = min(options.check.liveness_timeout, WATCH_LIVENESS_TIMEOUT)
        self.options = replace(options, check=replace(options.check, liveness_timeout=liveness))
        self.reporter = reporter
        self.notifier = notifier or SystemdNotifier()
        self.metrics = metrics or WatchMetrics()
        self.signal = WorkSignal(Debouncer(options.debounce, options.max_delay))
        self.tracker = FindingTracker(settle=options.settle)
        self.patience = early.ProbePatience(lambda: self.signal.requests)
        self.timetable = Timetable()
        self.link = PodmanLink(options.check.url)
        self.dirs = DirectoryWatch(self._request)
        self.events = PodmanEventStream(
            self.link.events_url,
            self._on_podman_event,
            StreamHealth(reporter, lambda why: self.signal.request(None, why)).on_connection,
        )
        self.repairer = Repairer(
            RepairGate(base=options.repair_backoff, cap=options.repair_backoff_cap)
        )
        self.retry = Backoff(base=1.0, cap=options.reconnect_cap)
        self.run_dir: RunDir | None = None
        self.checks = 0
        self._members: Mapping[str, frozenset[str]] = {}
        #: the containers podman's last listing had (early.lines_outlived)
        self._listed: frozenset[str] = frozenset()
        #: removed containers -> networks of their lines no check has covered since
        self._owed: dict[str, frozenset[str]] = {}
        self._postponed: dict[str, float] = {}
        self.stop_reason = ""
        self._look_again = LookAgain(options.interval)
        self._transit = ContainerTransit()
        self.lookahead = LookAhead(liveness)
        self.heap = Heap(glibc())
        #: what check, preflight and clean are answered from (watch/answer.py)
        self.answers = AnswerState()
        self._answering: AnswerServer | None = None

    # ----------------------------------------------------------------- callbacks (any thread)

    def stop(self, reason: str = "") -> None:
        """Ask the loop to end (safe from a signal handler: takes no lock but the
        Condition's re-entrant one, and logs nothing)."""
        self.stop_reason = self.stop_reason or reason
        self.signal.stop()

    def _on_podman_event(self, event: PodmanEvent) -> None:
        """Check the networks the container is in or has lines in (as of the last check).

        A container the last check did not know has no line we could judge yet: when
        netavark writes one, the file event brings the check (the interval is the net).
        4.3's connect/disconnect events name no network: the container's known ones are
        checked, the other side shows up as a file change.
        """
        self._transit.note(event.action, event.container_id, time.monotonic())
        if finished := event.action in FINISHED:
            self.lookahead.container_done(event.container_id)
        nets = self._members.get(event.container_id)
        self.answers.podman_event(nets)
        if not nets:
            return
        who = event.name or event.container_id[:12]
        self._request(nets, f"{event.type} {who} {event.action}", urgent=finished)

    def _request(self, networks: CheckScope, reason: str, *, urgent: bool = False) -> None:
        """Ask for a check, unless it only concerns networks outside ``--network``."""
        self.answers.request(networks)
        selected = self.options.check.networks
        if networks is not None and selected and not networks & selected:
            return
        self.signal.request(networks, reason, urgent=urgent)

    # ----------------------------------------------------------------- the loop

    def run(self) -> None:
        """Until ``stop``: one full check, then checks as events and timers ask."""
        self.heap.cap_arenas()  # before any thread of ours allocates
        self.dirs.start()
        self._watch_dirs(guess_dirs(self.options.check.run_dir))
        self.events.start()
        if not self._run_check(Batch(None, ("start",))):
            return
        from aardcheck.watch.answer_commands import start_answering

        self._answering = start_answering(
            self.answers,
            self.options,
            self.reporter.info,
            lambda: self._request(None, "a command found podman events newer than the last check"),
        )
        ready = ready_line(self.dirs.watched(), self.options)
        self.reporter.info(ready)
        self.notifier.ready(ready)
        next_full = time.monotonic() + self.options.interval
        while not self.signal.stopping:
            wake = [next_full, self.timetable.next_at(), self.notifier.next_ping_at()]
            batch = self.signal.wait(min(t for t in wake if t is not None))
            if self.signal.stopping:
                break
            now = time.monotonic()
            self.notifier.ping_if_due(now)
            interval = Batch(None, ("interval",)) if now >= next_full else None
            for extra in (self.timetable.take(now), interval):
                if extra is not None:
                    batch = extra if batch is None else batch.merge(extra)
            if batch is None:
                continue
            if batch.full:
                next_full = now + self.options.interval
            if not self._run_check(batch):
                return

    def _run_check(self, batch: Batch) -> bool:
        """Run one check on a worker thread so that a stop request (and the systemd
        watchdog) is served while podman is slow to answer. False when the check was
        abandoned because the watcher is stopping."""
        scope = scope_of(batch.networks, self.options.check.networks)
        if scope is not None and not scope:
            return True  # only networks outside --network changed
        done = threading.Event()

        def work() -> None:
            try:
                self.check(batch)
            except Exception as err:  # a bug must not end the watcher: report it, go on
                self.reporter.error(f"internal error during a check: {describe_error(err)}")
            finally:
                done.set()
                self.signal.poke()

        threading.Thread(target=work, name="aardcheck-check", daemon=True).start()
        while not done.is_set() and not self.signal.stopping:
            ping = self.notifier.next_ping_at()
            timeout = None if ping is None else max(0.0, ping - time.monotonic())
            self.signal.wait_for(lambda: done.is_set() or self.signal.stopping, timeout)
            self.notifier.ping_if_due()
        if done.is_set() or self.signal.wait_for(done.is_set, STOP_GRACE):
            return True
        self.reporter.warning(
            f"stopping without waiting for a check still running ({', '.join(batch.reasons)})"
        )
        return False

    def close(self) -> list[str]:
        """Stop observers, the event thread and the private API service; returns the
        names of threads that did not end in time (for the log)."""
        started = time.monotonic()
        if self.stop_reason:
            self.reporter.info(f"{self.stop_reason} received; stopping")
        self.notifier.stopping()
        self.signal.stop()
        if self._answering is not None:
            self._answering.close()
        left: list[str] = []
        self.dirs.stop()
        self.reporter.debug(f"directory observers joined after {time.monotonic() - started:.2f} s")
        if not self.events.stop():
            left.append("podman-events")
        if not self.lookahead.stop(1.0):  # a daemon thread: it ends at its agent's budget
            self.reporter.debug("an ARP/NDP look still runs; it ends within its budget")
        self.reporter.debug(f"event stream closed after {time.monotonic() - started:.2f} s")
        self.link.close()
        self.reporter.debug(f"podman session closed after {time.monotonic() - started:.2f} s")
        return left

    def _watch_dirs(self, dirs: list[Path]) -> None:
        for note in self.dirs.add(dirs):
            self.reporter.info(note)

    # ----------------------------------------------------------------- one check

    def check(self, batch: Batch) -> None:
        """Check the batch's networks; never raises (problems are reported)."""
        scope = scope_of(batch.networks, self.options.check.networks)
        if scope is not None and not scope:
            return  # only networks outside --network changed
        if self.dirs.needs_rearm:
            for note in self.dirs.rearm():
                self.reporter.info(note)
        started, listed = time.monotonic(), self._listed
        wait = liveness_wait(batch.reasons, self.options.check.liveness_timeout, self.cold_wait)
        try:
            session = self.link.session()
            result, checked = self._check_scope(session, scope, wait, started, listed)
        except Exception as err:  # podman gone, a bug: report it, retry with back-off
            self._failed(err, started, scope)
            return
        self._succeeded(session, result, scope, checked, batch, (started, wait, listed))

    def _check_scope(
        self,
        session: PodmanSession,
        scope: CheckScope,
        wait: float,
        started: float,
        listed_before: frozenset[str],
    ) -> tuple[CheckResult | None, CheckScope]:
        """Check ``scope`` (None: the user's selection); networks that vanished are left
        out (a check must not name them) but their findings resolve all the same."""
        wanted = self.options.check.networks if scope is None else scope
        options = replace(self.options.check, liveness_timeout=wait)
        on_partial = early.early_report(
            self.tracker,
            self._transit,
            self._publish,
            scope,
            started,
            options.ignore,
            listed_before,
        )
        look = (on_partial, self.patience.for_check(), self.lookahead.liveness)
        try:
            return check_with(session, replace(options, networks=wanted), *look), wanted
        except UsageError:
            if not wanted:
                raise
        existing = wanted & known_networks(session, self.run_dir)
        self._note_missing(wanted - existing if scope is None else frozenset())
        if not existing:
            return None, existing
        return check_with(session, replace(options, networks=existing), *look), existing

    def _note_missing(self, missing: frozenset[str]) -> None:
        for net in sorted(missing):
            self.reporter.problem(f"missing:{net}", f"network {net} does not exist (yet)")
        for net in sorted(self.options.check.networks - missing):
            self.reporter.recovered(f"missing:{net}", f"network {net} exists now")

    def _failed(self, err: Exception, started: float, scope: CheckScope) -> None:
        self.metrics.record_check(full=scope is None, ok=False, duration=time.monotonic() - started)
        self._write_textfile()
        if not self.link.healthy():
            self.link.drop()  # reconnect (and restart a private service) next time
        else:
            self.link.release()  # the failed check may have listed containers
        what = str(err) if isinstance(err, AardcheckError) else describe_error(err)
        failed_before = self.retry.failures
        delay = retry_delay(self.retry.next_delay(), what, failed_before)
        self.reporter.problem("check", f"check failed: {what}; retrying with back-off")
        self.reporter.debug(f"next attempt in {delay:.1f} s")
        self.timetable.add(time.monotonic() + delay, Batch(None, ("retry after failure",)))

    def _succeeded(
        self,
        session: PodmanSession,
        result: CheckResult | None,
        scope: CheckScope,
        checked: CheckScope,
        batch: Batch,
        begun: tuple[float, float, frozenset[str]],
    ) -> None:
        """``begun``: when the check started, its ARP/NDP wait, and what podman had
        listed before it."""
        started, wait, listed_before = begun
        self.checks += 1
        self.retry.reset()
        self.reporter.recovered("check", "checks work again")
        if result is not None:
            self.run_dir = result.snapshot.directory.run_dir
            # CNI: the dnsname plugin's directory itself (one subdirectory per network)
            cni = result.context.network_backend == "cni"
            self._watch_dirs([self.run_dir.path if cni else self.run_dir.dns_dir])
            self._members = memberships(result.snapshot)
            owed = early.owed_checks(
                result.snapshot, listed_before, self._owed, scope, self.options.check.networks
            )
            if due := frozenset().union(*(n for c, n in owed.items() if c not in self._owed)):
                self.timetable.add(time.monotonic(), Batch(due, (early.LINES_ELSEWHERE,)))
            self._owed = owed
            self._listed = frozenset(c.id for c in result.snapshot.podman.containers) | set(owed)
            self.lookahead.learn(result.snapshot)
            self.metrics.observe_probes(result.snapshot.probes)
        if scope is None and result is not None and not self.options.check.networks:
            self._note_missing(frozenset())
        findings: tuple[Finding, ...] = result.findings if result is not None else ()
        now = time.monotonic()
        # observed when the check started: a change seen at the start of two checks at
        # least `settle` apart has settled, however long each check took
        stopped = result is not None and result.probe_stopped
        self.patience.ended(stopped)
        update = self.tracker.update(
            findings,
            scope,
            started,
            finished=early.done_with(
                self._transit, result.snapshot if result else None, started, listed_before
            ),
            busy=self._transit.busy_at(started),
            covers=early.without_probe if stopped else None,
        )
        self.answers.checked(
            result, None if scope is None else checked or frozenset(), started, wait
        )
        if stopped:  # the next check, at once, probes again
            self.timetable.add(now, Batch(checked, (early.PROBE_STOPPED,)))
        if result is not None and (
            silent := to_confirm(result.snapshot.liveness, wait, self.cold_wait)
        ):
            self.lookahead.confirm(result.snapshot, self.cold_wait)  # its check takes this
            self.timetable.add(now + CONFIRM_AFTER, Batch(silent, (CONFIRM_SILENT,)))
        self._publish(update.transitions)
        if update.recheck_at is not None:
            self.timetable.add(update.recheck_at, Batch(update.recheck_networks, ("settle",)))
        for at, net, reason in self._look_again.due(self.tracker.current, now):
            self.timetable.add(at, Batch(frozenset({net}), (reason,)))
        if self.options.fix and result is not None:
            self._repair(session, result, now)
        duration = time.monotonic() - started
        self.metrics.record_check(full=scope is None, ok=True, duration=duration)
        self._write_textfile()
        # Before the log line: once a check is logged, it holds no container netns.
        self.link.release()
        counts = (len(findings), self.tracker.pending, self.signal.requests)
        phases = result.phases if result else ()
        self.reporter.debug(
            check_line(self.checks, checked, batch.reasons, duration, phases, counts)
        )
        self.heap.trim_if_due(time.monotonic())

    def _publish(self, transitions: Iterable[Transition]) -> None:
        """The gauges first, then the log: a scrape after a logged change sees it."""
        self.metrics.set_findings(self.tracker.current)
        for t in transitions:
            self.reporter.transition(t)

    # ----------------------------------------------------------------- repairs

    def _repair(self, session: PodmanSession, result: CheckResult, now: float) -> None:
        settled = {f.identity for f in self.tracker.current}
        round_ = self.repairer.repair(
            session, result, (f for f in result.findings if f.identity in settled), now
        )
        for change in round_.changes:
            self.reporter.repair(change)
            self.metrics.record_repair(change)
        for net, opens in round_.postponed:
            if self._postponed.get(net) != opens:
                self._postponed[net] = opens
                self.reporter.warning(
                    f"repairs of network {net} are backed off (it keeps going stale); "
                    f"next attempt in {opens - now:.0f} s"
                )
            self.timetable.add(opens, Batch(frozenset({net}), ("repair back-off over",)))
        if round_.touched:
            self.timetable.add(time.monotonic(), Batch(round_.touched, ("after repair",)))

    def _write_textfile(self) -> None:
        write_textfile(self.metrics, self.options.textfile_dir, self.reporter)
