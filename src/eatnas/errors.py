"""User-facing errors: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations


class EatnasError(Exception):
    """An error caused by input (config, file, argument) that the user can fix.

    The message names the offending key/path/value and says what to do.
    """


class ConfigError(EatnasError):
    """A config file or config value is invalid."""


class DataError(EatnasError):
    """A dataset is unknown, missing or malformed."""


class ArchStringError(EatnasError):
    """An architecture string is malformed; ``position`` is the character offset of the problem."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"invalid architecture string{where}: {message}")


class CheckpointError(EatnasError):
    """A checkpoint file is missing, truncated or from an incompatible version."""
