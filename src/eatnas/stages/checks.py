"""Checks the workflow runs before any job starts: the data each configured dataset needs is there."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from eatnas.errors import ConfigError, DataError


def check_dataset(ds: Mapping[str, Any], key: str, source: str = "config") -> None:
    """Raise ConfigError naming ``key`` (``data.<role>``) when the dataset's files cannot be found."""
    name, root, download = ds["name"], ds.get("root"), bool(ds.get("download"))
    where = f"{source}: config key {key + '.root'!r}"
    if name == "imagefolder":
        if not root:
            raise ConfigError(f"{where} is required for dataset 'imagefolder'; set it to the folder holding train/ and val/")
        base = Path(root).expanduser()
        if not (base / "train").is_dir() or not (base / "val").is_dir():
            raise ConfigError(f"{where} = {root!r} has no train/ and val/ sub-folders; fix the path")
        return
    if download:
        return
    if root and not Path(root).expanduser().exists():
        raise ConfigError(f"{where} = {root!r} does not exist; fix the path, set download: true, "
                          "or use null for the dataset's default location")
    try:
        if name == "fashion_mnist":
            from eatnas.data.sources import fashion_mnist

            fashion_mnist.locate(root, False)
        elif name in ("cifar10", "cifar100"):
            from eatnas.data.sources import cifar

            cifar.locate(name, root, False)
    except DataError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_data(cfg: Mapping[str, Any], source: str = "config") -> None:
    """Check ``data.small`` and ``data.large`` of a validated config."""
    for role in ("small", "large"):
        check_dataset(cfg["data"][role], f"data.{role}", source)
