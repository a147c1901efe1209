"""Repairs, always plan -> show -> apply. ``plan`` (aardvark files) and ``dnsname_plan``
(the dnsname plugin's) are pure: findings in, a ``RepairPlan`` out. ``apply`` and
``dnsname_apply`` carry a plan out under netavark's (or the plugin's) locks, through
``locks``, ``files``, ``dnsname_fs`` and ``resolver``; ``recreate`` rebuilds a network
through the API (``recreate_steps``, ``recorded``, journalled in ``journal``);
``outcome`` is what a repair reports.

May import ``models``, ``findings``, ``errors``, ``checks`` (the facts a plan reads),
``format`` (editing a file), ``dnsname`` and ``sources`` (re-reading under the lock,
the podman session); must not import ``runner``, ``report``, ``compose``, the watcher
or the CLI.
"""
