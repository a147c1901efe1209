"""aardcheck's benchmark harness: ``sudo .venv/bin/python -m bench [--quick]``.

It builds its own scenario on real podman (through the test harness in
``tests/realpodman``), measures, removes everything it made, and writes a markdown and a
JSON report. See ``docs/benchmarks.md`` for the method and the figures.
"""
