"""imagegraph's version, in a module of its own: what reads it (the caches, the
CLI) needs no import of the whole package, which would import every layer."""

__version__ = "0.1.0"
