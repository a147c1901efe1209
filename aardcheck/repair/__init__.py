"""Repairs: ``plan`` is pure; ``locks``, ``files``, ``resolver`` and ``prune`` touch the host."""
