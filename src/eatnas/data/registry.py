"""The dataset registry and the one entry point ``load_dataset``."""

from __future__ import annotations

from typing import Callable

import torch

from eatnas.data.config import DatasetConfig
from eatnas.data.splits import DataSplits
from eatnas.errors import DataError, EatnasError
from eatnas.registry import Registry

Loader = Callable[[DatasetConfig, int, "torch.device | None"], DataSplits]

DATASETS: Registry[Loader] = Registry("dataset")


def load_dataset(cfg: DatasetConfig, seed: int, device: torch.device | str | None = None) -> DataSplits:
    """Load the dataset ``cfg.name`` as train / val / test splits (see ``docs/data-and-training.md``).

    In-memory datasets are placed on ``device`` when ``cfg.on_device`` and ``device`` is a CUDA
    device; otherwise they stay on the CPU and the trainer moves each batch.
    """
    import eatnas.data.sources  # noqa: F401  (registers the built-in datasets)

    try:
        loader = DATASETS.get(cfg.name)
    except EatnasError as exc:
        raise DataError(f"data.name: {exc}") from None
    target = torch.device(device) if device is not None else None
    if target is not None and not (cfg.on_device and target.type == "cuda"):
        target = None
    return loader(cfg, seed, target)
