"""cctwin: a digital twin of a contact center (shared config, contract and metrics)."""

__version__ = "0.1.0"
