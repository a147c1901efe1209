"""The command line: the typer app (``app``), one module per command group, and the
typer-free cold path (``fast`` parses plain argv, ``run`` holds the command bodies both
fronts call).

May import every other part of aardcheck. Nothing imports it but ``aardcheck.__main__``
(and the watcher's answers, which reuse the command bodies' parsing). Keep this file
empty of imports: ``check`` and ``lint`` run without typer (``common``, ``run``, ``fast``
and ``textfile`` never import it), and every import here would be paid on that path.
"""
