"""Any ImageFolder tree with ``train/`` and ``val/`` sub-folders (ImageNet layout), read lazily.

``train/`` provides the training and validation splits (validation carved out, stratified);
``val/`` is the test split. Images are decoded by DataLoader workers on every pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from eatnas.data.config import DatasetConfig
from eatnas.data.partition import first_classes, stratified_split, stratified_subset
from eatnas.data.registry import DATASETS
from eatnas.data.roots import missing_data, root_of
from eatnas.data.splits import DataSplits, LazySplit
from eatnas.errors import DataError
from eatnas.utils.seed import derive_seed

DEFAULT_RESOLUTION = 224
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class FileDataset(Dataset):
    """``(path, label)`` samples decoded as RGB and passed through ``transform``."""

    def __init__(self, samples: list[tuple[str, int]], transform: Callable) -> None:
        self.samples = samples
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from torchvision.datasets.folder import default_loader

        path, label = self.samples[i]
        return self.transform(default_loader(path)), label


def transforms(resolution: int, train: bool, augment: bool) -> Callable:
    """Training: random-resized crop + flip (when ``augment``); evaluation: resize + centre crop."""
    from torchvision import transforms as T

    if train and augment:
        head = [T.RandomResizedCrop(resolution, scale=(0.25, 1.0), antialias=True), T.RandomHorizontalFlip()]
    else:
        head = [T.Resize(max(resolution, round(resolution / 0.875)), antialias=True), T.CenterCrop(resolution)]
    return T.Compose(head + [T.ToTensor(), T.Normalize(MEAN, STD)])


def scan(folder: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Class names (sorted folder names) and samples of one ImageFolder tree."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    try:
        classes, class_to_idx = find_classes(str(folder))
        samples = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"{folder}: not a usable ImageFolder tree ({exc}); put images under "
                        f"{folder}/<class>/<image>") from None
    return classes, samples


def default_workers() -> int:
    return min(8, max(0, (os.cpu_count() or 1) - 1))


@DATASETS.register("imagefolder")
def load_imagefolder(cfg: DatasetConfig, seed: int, device: torch.device | None) -> DataSplits:
    base = root_of(cfg.root)
    if not (base / "train").is_dir() or not (base / "val").is_dir():
        raise missing_data("imagefolder", "the sub-folders 'train/' and 'val/'", [base], downloadable=False)
    classes, train_samples = scan(base / "train")
    test_classes, test_samples = scan(base / "val")
    if test_classes != classes:
        raise DataError(f"{base}: 'train/' and 'val/' have different class folders; give both the same classes")
    k = cfg.subset_classes
    if k is not None and k > len(classes):
        raise DataError(f"data.subset_classes={k} but {base} has only {len(classes)} classes; lower it or set null")
    labels = np.array([y for _, y in train_samples], dtype=np.int64)
    idx = first_classes(labels, k)
    idx = idx[stratified_subset(labels[idx], cfg.subset_fraction, derive_seed(seed, "imagefolder", "subset"))]
    keep, held = stratified_split(labels[idx], cfg.val_fraction, derive_seed(seed, "imagefolder", "val"))
    if len(keep) == 0 or len(held) == 0:
        raise DataError(f"{base}: val_fraction={cfg.val_fraction} leaves {len(keep)} training and {len(held)} "
                        f"validation images; add images or raise subset_fraction")
    res = cfg.resolution or DEFAULT_RESOLUTION
    workers = cfg.workers if cfg.workers is not None else default_workers()
    test_labels = np.array([y for _, y in test_samples], dtype=np.int64)
    test_idx = first_classes(test_labels, k)

    def split(samples: list[tuple[str, int]], sel: np.ndarray, train: bool) -> LazySplit:
        chosen = [samples[i] for i in sel]
        ds = FileDataset(chosen, transforms(res, train, cfg.augment))
        return LazySplit(ds, torch.tensor([y for _, y in chosen], dtype=torch.long), workers)

    n = k or len(classes)
    return DataSplits(
        name="imagefolder", train=split(train_samples, idx[keep], True), val=split(train_samples, idx[held], False),
        test=split(test_samples, test_idx, False), num_classes=n, in_channels=3, resolution=res,
        class_names=tuple(classes[:n]), augment=None,
    )
