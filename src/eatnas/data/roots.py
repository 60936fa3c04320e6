"""Where datasets live on disk, and the error raised when they are not there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from eatnas.errors import DataError

#: Environment variable naming the default data directory (``data`` under the working directory otherwise).
DATA_ENV = "EATNAS_DATA"


def default_root() -> Path:
    """The data directory used when a dataset's ``root`` is null."""
    return Path(os.environ.get(DATA_ENV, "data"))


def root_of(root: str | None) -> Path:
    return Path(root).expanduser() if root else default_root()


def missing_data(name: str, wanted: str, looked_in: Iterable[Path], hint: str = "") -> DataError:
    """A one-line error naming what was looked for, where, and how to fix it."""
    places = ", ".join(repr(str(p)) for p in looked_in)
    extra = f"{hint}, " if hint else ""
    return DataError(f"dataset {name!r}: {wanted} not found in {places}; {extra}set the dataset's 'root' "
                     f"to a directory holding it, or set 'download: true'")
