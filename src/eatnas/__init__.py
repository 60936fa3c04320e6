"""eatnas: RENAS / JASQ / EAT-NAS neural architecture search as one reproducible pipeline."""

from eatnas.version import __version__, code_version

__all__ = ["__version__", "code_version"]
