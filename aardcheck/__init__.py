"""aardcheck: find and repair stale aardvark-dns mappings on podman hosts.

How the parts fit together (read first): ``docs/architecture.md``.
"""

__version__ = "0.1.0"
