"""Dataset splits: in-memory tensor splits (iterated by index) and lazily loaded splits (DataLoader)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Sequence, Union

import torch
from torch.utils.data import Dataset

from eatnas.data.augment import BatchAugment


@dataclass(frozen=True, eq=False)
class TensorSplit:
    """Images held as one tensor (``uint8`` in 0..255 or float in 0..1) plus labels, on one device.

    ``batch(idx)`` returns normalised float images ``(x / scale - mean) / std`` and labels.
    """

    images: torch.Tensor  # [N, C, H, W]
    labels: torch.Tensor  # [N] int64
    mean: tuple[float, ...]
    std: tuple[float, ...]
    _scale: tuple[torch.Tensor, torch.Tensor, torch.Tensor] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(f"{self.images.shape[0]} images but {self.labels.shape[0]} labels")
        dev = self.images.device
        stored = 255.0 if self.images.dtype == torch.uint8 else 1.0
        mean = torch.tensor(self.mean, dtype=torch.float32, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=dev).view(1, -1, 1, 1)
        # (x / stored - mean) / std == x * mul_stored + add, and likewise for 0..1 images
        object.__setattr__(self, "_scale", (1.0 / (stored * std), 1.0 / std, -mean / std))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def device(self) -> torch.device:
        return self.images.device

    def raw(self, idx: torch.Tensor) -> torch.Tensor:
        """Float images in 0..1 (before normalisation), for augmentation."""
        x = self.images[idx].float()
        return x * (1.0 / 255.0) if self.images.dtype == torch.uint8 else x

    def normalise(self, x01: torch.Tensor) -> torch.Tensor:
        """Normalise float images in 0..1 with this split's mean and std."""
        _, mul01, add = self._scale
        return torch.addcmul(add, x01, mul01)

    def batch(self, idx: torch.Tensor, augment: BatchAugment | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised float images and labels at ``idx`` (a long tensor on this split's device)."""
        if augment is not None and augment.active:
            x = self.normalise(augment(self.raw(idx), generator))
        else:
            mul, _, add = self._scale
            x = torch.addcmul(add, self.images[idx].float(), mul)
        return x, self.labels[idx]

    def take(self, idx: torch.Tensor | Sequence[int]) -> "TensorSplit":
        idx = torch.as_tensor(idx, dtype=torch.long, device=self.images.device)
        return replace(self, images=self.images[idx], labels=self.labels[idx])

    def to(self, device: torch.device | str) -> "TensorSplit":
        device = torch.device(device)
        if self.images.device == device:
            return self
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def eval_batches(self, batch_size: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, len(self), batch_size):
            idx = torch.arange(start, min(start + batch_size, len(self)), device=self.images.device)
            x, y = self.batch(idx)
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


@dataclass(frozen=True, eq=False)
class LazySplit:
    """A split read from disk on the fly by a DataLoader (``dataset[i] -> (normalised image, label)``)."""

    dataset: Dataset
    labels: torch.Tensor  # [N] int64 on the CPU, for class counts and stratification
    workers: int = 0

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> "LazySplit":
        return self

    def loader(self, batch_size: int, *, shuffle: bool, drop_last: bool = False,
               generator: torch.Generator | None = None, pin_memory: bool = False) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(
            self.dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator,
            num_workers=self.workers, pin_memory=pin_memory, persistent_workers=False,
        )

    def eval_batches(self, batch_size: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader(batch_size, shuffle=False, pin_memory=device.type == "cuda"):
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


Split = Union[TensorSplit, LazySplit]


@dataclass(frozen=True, eq=False)
class DataSplits:
    """Train / validation / test splits of one dataset plus what a network needs to know about it.

    ``augment`` is the training augmentation for tensor splits (``None`` = none); lazy splits
    augment inside their dataset's transform.
    """

    name: str
    train: Split
    val: Split
    test: Split | None
    num_classes: int
    in_channels: int
    resolution: int
    class_names: tuple[str, ...]
    augment: BatchAugment | None = None

    @property
    def in_memory(self) -> bool:
        return isinstance(self.train, TensorSplit)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test) if self.test is not None else 0}

    def to(self, device: torch.device | str) -> "DataSplits":
        """The same splits with in-memory tensors moved to ``device`` (lazy splits stay on disk)."""
        return replace(self, train=self.train.to(device), val=self.val.to(device),
                       test=self.test.to(device) if self.test is not None else None)
