"""Everything that touches the outside world: aardvark files, podman, DNS, neighbours."""
