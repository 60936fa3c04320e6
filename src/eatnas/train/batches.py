"""Training batches: seeded index permutations for in-memory splits, a DataLoader for lazy ones."""

from __future__ import annotations

from typing import Iterator

import torch

from eatnas.data.splits import DataSplits, LazySplit, TensorSplit
from eatnas.utils.seed import derive_seed


def steps_per_epoch(splits: DataSplits, batch_size: int) -> int:
    """Full batches per pass over the training split (a ragged last batch is dropped; at least 1)."""
    n = len(splits.train)
    return max(1, n // min(batch_size, n)) if n else 0


def train_batches(splits: DataSplits, batch_size: int, steps: int, seed: int,
                  device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``steps`` normalised (and augmented) training batches on ``device``, reproducibly from ``seed``."""
    if isinstance(splits.train, TensorSplit):
        yield from _tensor_batches(splits.train, splits, batch_size, steps, seed, device)
    else:
        yield from _loader_batches(splits.train, batch_size, steps, seed, device)


def _tensor_batches(split: TensorSplit, splits: DataSplits, batch_size: int, steps: int, seed: int,
                    device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    n = len(split)
    bs = min(batch_size, n)
    per_epoch = max(1, n // bs)
    order = torch.Generator().manual_seed(derive_seed(seed, "order"))
    aug = torch.Generator(device=split.device).manual_seed(derive_seed(seed, "augment"))
    to_device = split.device != device
    done = 0
    while done < steps:
        perm = torch.randperm(n, generator=order).to(split.device)
        for i in range(min(per_epoch, steps - done)):
            x, y = split.batch(perm[i * bs:(i + 1) * bs], splits.augment, aug)
            if to_device:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            yield x, y
        done += min(per_epoch, steps - done)


def _loader_batches(split: LazySplit, batch_size: int, steps: int, seed: int,
                    device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = torch.Generator().manual_seed(derive_seed(seed, "order"))
    torch.manual_seed(derive_seed(seed, "augment"))  # worker seeds (and so random crops) derive from this
    loader = split.loader(min(batch_size, len(split)), shuffle=True, drop_last=True, generator=order,
                          pin_memory=device.type == "cuda")
    done = 0
    while done < steps:
        for x, y in loader:
            if done == steps:
                return
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            done += 1
