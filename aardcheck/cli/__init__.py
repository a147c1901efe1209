"""The command line: the typer app (``app``), one module per command group (``places``,
``watch``; ``options`` holds the typer options they share), and the typer-free cold
path: ``fast`` parses plain argv, ``run`` holds the command bodies both fronts call,
``common`` the output formats and the error -> exit code table, ``textfile`` the
node_exporter metrics of one run, ``top_help`` the plain top-level ``--help`` (typer's
own text, kept).

The top of the house: may import every other part. Only ``aardcheck.__main__`` imports
it, and the watcher's answers, which reuse its argv parsing. Keep this file free of
imports: ``check`` and ``lint`` run without typer (``common``, ``run``, ``fast``,
``textfile`` and ``top_help`` never import it), and every import here would be paid on that path.
"""
