"""The aardvark file format: what each aardvark-dns generation accepts (``grammar``),
reading one file by those rules (``parse``, with ``fastpath`` for the line netavark
writes), editing one byte for byte for a repair (``edit``), and the verdicts of
``aardcheck lint`` (``lint``).

Pure: bytes and a version in, models and verdicts out (lint looks at symlinks of the
directory it judges, nothing else). May import ``models`` only; must not import
``sources`` (the files are read in ``sources.aardvark_files`` and ``runner.lint``),
``report`` (lint is printed by ``report.lint_report``), ``runner``, ``repair``, the
watcher or the CLI.
"""
