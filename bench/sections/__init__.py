"""One module per measure of the benchmark issue; each returns a ``results.Section``."""
