"""The aardvark file format: what each aardvark-dns generation accepts (``grammar``),
reading one file by those rules (``parse``, with ``fastpath`` for the line netavark
writes), editing one byte for byte for a repair (``edit``), and the verdicts of
``aardcheck lint`` (``lint``).

Pure: bytes and a version in, models and verdicts out. May import ``models``,
``errors`` and ``report.text_report``; must not import ``sources``, ``runner``,
``repair``, the watcher or the CLI (the files are read in ``sources.aardvark_files``).
"""
