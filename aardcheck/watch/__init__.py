"""``aardcheck watch``: a long-running watcher that reports findings as they appear and
resolve, optionally prunes the safe ones, and exports metrics.

Layout (imports point one way, down this list):

- ``transitions``, ``schedule``: pure state (finding diffs with a settle period; debounce,
  back-off and the per-network repair gate), tested with literal data.
- ``output``, ``notify``, ``metrics``: where results go (stderr/stdout, systemd, Prometheus).
- ``routing``: which networks a podman event concerns (from the last snapshot).
- ``directories``, ``podman_events``, ``link``: the outside world (watchdog observers, the
  podman event stream, the one podman API session kept for the watcher's lifetime).
- ``wakeup``: the Condition that event callbacks poke and the main loop waits on.
- ``early``: reporting what a check knows before its probe answers.
- ``repairs``: the prune-only subset of ``aardcheck fix`` with its rate limit.
- ``service``: wires it together; ``run_watch`` is the one entry point the CLI calls.
- ``answer``, ``answer_commands``: the warm path, answering ``check``, ``preflight`` and
  ``clean`` from the current state.

May import every part below the CLI (``runner``, ``compose``, ``checks``, ``repair``,
``report``, ``sources`` ...); the CLI imports it (``cli.watch``), so it must not import
the CLI's typer app.
"""
