"""Training batches: seeded index permutations for in-memory splits, a DataLoader for lazy ones.

Epoch ``e``'s order and augmentation draw from generators seeded with ``(seed, e)`` alone, so training can
resume at any epoch boundary and see exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from typing import Iterator

import torch

from eatnas.data.splits import DataSplits, LazySplit, TensorSplit
from eatnas.utils.seed import derive_seed


def steps_per_epoch(splits: DataSplits, batch_size: int) -> int:
    """Full batches per pass over the training split (a ragged last batch is dropped; at least 1)."""
    n = len(splits.train)
    return max(1, n // min(batch_size, n)) if n else 0


def train_batches(splits: DataSplits, batch_size: int, steps: int, seed: int, device: torch.device,
                  start_step: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield training batches ``start_step .. steps - 1`` (normalised, augmented) on ``device``, reproducibly
    from ``seed``; ``start_step`` must be an epoch boundary (a multiple of :func:`steps_per_epoch`)."""
    per_epoch = steps_per_epoch(splits, batch_size)
    if start_step and (start_step % per_epoch or start_step > steps):
        raise ValueError(f"start_step {start_step} is not an epoch boundary (epochs of {per_epoch} steps) "
                         f"within {steps} steps")
    if isinstance(splits.train, TensorSplit):
        yield from _tensor_batches(splits.train, splits, batch_size, steps, seed, device, start_step)
    else:
        yield from _loader_batches(splits.train, batch_size, steps, seed, device, start_step)


def _tensor_batches(split: TensorSplit, splits: DataSplits, batch_size: int, steps: int, seed: int,
                    device: torch.device, start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    n = len(split)
    bs = min(batch_size, n)
    per_epoch = max(1, n // bs)
    order = torch.Generator()
    aug = torch.Generator(device=split.device)
    to_device = split.device != device
    done = start_step
    while done < steps:
        epoch = done // per_epoch
        order.manual_seed(derive_seed(seed, "order", epoch))
        aug.manual_seed(derive_seed(seed, "augment", epoch))
        perm = torch.randperm(n, generator=order).to(split.device)
        for i in range(min(per_epoch, steps - done)):
            x, y = split.batch(perm[i * bs:(i + 1) * bs], splits.augment, aug)
            if to_device:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            yield x, y
        done += min(per_epoch, steps - done)


def _loader_batches(split: LazySplit, batch_size: int, steps: int, seed: int, device: torch.device,
                    start_step: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    order = torch.Generator()
    loader = split.loader(min(batch_size, len(split)), shuffle=True, drop_last=True, generator=order,
                          pin_memory=device.type == "cuda")
    per_epoch = max(1, len(loader))
    done = start_step
    while done < steps:
        epoch = done // per_epoch
        # the sampler's permutation and the workers' base seed (so random crops) are drawn from `order`
        # when the epoch's iterator is created; the main-process RNG covers transforms without workers
        order.manual_seed(derive_seed(seed, "order", epoch))
        torch.manual_seed(derive_seed(seed, "augment", epoch))
        for x, y in loader:
            if done == steps:
                return
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            done += 1
