"""podman-compose: naming a project and its networks exactly as podman-compose 1.6.0
does (``project``, with ``files`` and ``env`` for the compose files and the
environment), the pre-flight that says whether ``up`` is safe right now
(``preflight``, rendered by ``preflight_report``), and the decision of the
``aardcheck compose`` wrapper (``wrapper``).

Naming is pure (files are read through a ``FileAccess`` passed in). The pre-flight
gathers and repairs through ``runner``, ``sources`` and ``repair`` (their heavy parts
imported inside ``run_preflight``). May import those, ``report``, ``models``,
``findings`` and ``errors``; must not import the watcher or the CLI.
"""
