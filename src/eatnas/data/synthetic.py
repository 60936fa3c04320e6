"""Random in-memory datasets of any shape, for benchmarks and smoke tests (no files needed)."""

from __future__ import annotations

import torch

from eatnas.data.augment import BatchAugment
from eatnas.data.splits import DataSplits, TensorSplit


def random_splits(n_train: int = 4096, n_val: int = 256, *, channels: int = 3, resolution: int = 32,
                  num_classes: int = 10, seed: int = 0, augment: BatchAugment | None = None,
                  device: torch.device | str | None = None) -> DataSplits:
    """Uniform random uint8 images with random labels (CIFAR-shaped by default), seeded."""
    g = torch.Generator().manual_seed(seed)
    n = n_train + n_val
    images = torch.randint(0, 256, (n, channels, resolution, resolution), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    full = TensorSplit(images, labels, (0.5,) * channels, (0.29,) * channels)
    train, val = full.take(torch.arange(n_train)), full.take(torch.arange(n_train, n))
    splits = DataSplits("random", train, val, None, num_classes, channels, resolution,
                        tuple(str(c) for c in range(num_classes)), augment)
    return splits.to(device) if device is not None else splits
