"""Rendering results: a ``CheckResult`` as text or JSON (``text_report``,
``json_report``), a repair's plan, changes and verification (``fix_report``), lint's
verdicts (``lint_report``). Pure: results in, a string out; the caller decides where
the text goes.

May import ``models``, ``findings``, the plain data of ``repair`` (``plan``,
``outcome``) and of ``format.lint``, and the package version; must not import
``sources``, ``runner``, the watcher or the CLI.
"""
