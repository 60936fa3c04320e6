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


def missing_data(name: str, wanted: str, looked_in: Iterable[Path], hint: str = "",
                 downloadable: bool = True) -> DataError:
    """A one-line error naming what was looked for, where, and how to fix it."""
    places = ", ".join(repr(str(p)) for p in looked_in)
    fixes = ([hint] if hint else []) + ["set the dataset's 'root' to a directory holding it"]
    if downloadable:
        fixes.append("set 'download: true'")
    fix = ", ".join(fixes[:-1]) + f" or {fixes[-1]}" if len(fixes) > 1 else fixes[0]
    return DataError(f"dataset {name!r}: {wanted} not found in {places}; {fix}")
