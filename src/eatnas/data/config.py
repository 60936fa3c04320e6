"""``DatasetConfig``: the ``$defs/dataset`` section of the config schema as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetConfig:
    """Which dataset to load and how to cut it down to a proxy.

    name: a registered dataset (``digits``, ``fashion_mnist``, ``cifar10``, ``cifar100``, ``imagefolder``).
    root: data directory (``None`` = the dataset's default location).
    download: let torchvision download the files when they are missing.
    val_fraction: share of the *training* split held out (stratified, seeded) for validation.
    subset_fraction: share of the training images kept (stratified, seeded; the test split stays whole).
    subset_classes: keep only the first K classes (all splits).
    resolution: resize images to ``resolution``×``resolution`` (``None`` = native size).
    augment: apply the dataset's standard training augmentation.
    on_device: keep in-memory datasets on the GPU when training on CUDA.
    workers: DataLoader workers for lazily loaded datasets (``None`` = ``min(8, cores - 1)``).
    """

    name: str = "digits"
    root: str | None = None
    download: bool = False
    val_fraction: float = 0.1
    subset_fraction: float = 1.0
    subset_classes: int | None = None
    resolution: int | None = None
    augment: bool = True
    on_device: bool = True
    workers: int | None = None
