"""aardcheck: find and repair stale aardvark-dns mappings on podman hosts."""

__version__ = "0.1.0"
