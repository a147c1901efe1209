"""Running a job end to end: gather (``sources``) -> judge (``checks``, ``format``) ->
(repair) -> a result with its exit code. One module per job: ``check`` and ``fix`` on
an aardvark host, ``cni_check`` and ``cni_fix`` on a CNI host (the dnsname plugin),
``clean`` for the timer job, ``lint`` for files alone; ``options`` holds what they are
asked to do. Shared by the CLI, the pre-flight and the watcher.

The only part that wires ``sources`` to the pure core; it owns no policy and renders
nothing (output is the caller's). May import ``sources``, ``checks``, ``format``,
``dnsname``, ``repair``, ``models`` and ``errors``; must not import ``report``,
``compose``, the watcher or the CLI. The repair modules are imported inside the
functions that repair, so a check never pays for them.
"""
