"""The CNI backend: names served by the ``dnsname`` plugin's dnsmasq (podman 3.x/4.x).
Its model (``model``), the ``addnhosts`` grammar (``hosts_format``), its checks
(``checks``, ``probing``) and lint (``lint_hosts``). What the plugin does, with source
references: ``docs/cni.md``.

Pure. May import ``models``, ``findings`` and ``format.lint``'s result types; must not
import ``sources`` (reading the run directory is ``sources.dnsname_files``), ``repair``
(its plan and apply are ``repair.dnsname_plan`` and ``repair.dnsname_apply``),
``runner`` (``runner.cni_check``, ``runner.cni_fix``), the watcher or the CLI.
"""
