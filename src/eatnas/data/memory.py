"""Turn whole-dataset arrays into in-memory ``DataSplits``: subsets, validation hold-out, resizing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from eatnas.data.augment import BatchAugment, shift_pad
from eatnas.data.config import DatasetConfig
from eatnas.data.partition import first_classes, stratified_split, stratified_subset
from eatnas.data.splits import DataSplits, TensorSplit
from eatnas.errors import DataError
from eatnas.utils.seed import derive_seed


@dataclass(frozen=True)
class ArrayData:
    """A dataset as arrays: images ``[N, C, H, W]`` (uint8 0..255 or float32 0..1), int labels.

    ``shift`` is the random-shift padding as a fraction of the image side and ``flip`` enables
    horizontal flips (the dataset's standard augmentation); ``mean``/``std`` normalise 0..1 images.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray | None
    test_labels: np.ndarray | None
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    shift: float
    flip: bool


def tensor_splits(name: str, data: ArrayData, cfg: DatasetConfig, seed: int,
                  device: torch.device | None = None) -> DataSplits:
    """Apply ``cfg`` (classes, subset, validation fraction, resolution) and build tensor splits.

    Order: keep the first ``subset_classes`` classes (all splits), keep a stratified
    ``subset_fraction`` of the training images, then hold out ``val_fraction`` of what is left
    (stratified) as validation. The test split is never used for validation or subsetting.
    """
    num_classes = len(data.class_names)
    k = cfg.subset_classes
    if k is not None:
        if k > num_classes:
            raise DataError(f"data.subset_classes={k} but {name} has only {num_classes} classes; "
                            f"set subset_classes to at most {num_classes} or null")
        num_classes = k
    train_idx = first_classes(data.train_labels, k)
    sub = stratified_subset(data.train_labels[train_idx], cfg.subset_fraction, derive_seed(seed, name, "subset"))
    train_idx = train_idx[sub]
    keep, held = stratified_split(data.train_labels[train_idx], cfg.val_fraction, derive_seed(seed, name, "val"))
    if len(keep) == 0 or len(held) == 0:
        raise DataError(f"{name}: val_fraction={cfg.val_fraction} and subset_fraction={cfg.subset_fraction} leave "
                        f"{len(keep)} training and {len(held)} validation images; raise subset_fraction")
    resolution = cfg.resolution or data.train_images.shape[-1]

    def make(images: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> TensorSplit:
        x = _resize(torch.from_numpy(np.ascontiguousarray(images[idx])), resolution)
        y = torch.from_numpy(labels[idx].astype(np.int64))
        split = TensorSplit(x, y, data.mean, data.std)
        return split.to(device) if device is not None else split

    train = make(data.train_images, data.train_labels, train_idx[keep])
    val = make(data.train_images, data.train_labels, train_idx[held])
    test = None
    if data.test_images is not None and data.test_labels is not None:
        test = make(data.test_images, data.test_labels, first_classes(data.test_labels, k))
    augment = BatchAugment(pad=shift_pad(resolution, data.shift), flip=data.flip) if cfg.augment else None
    return DataSplits(
        name=name, train=train, val=val, test=test, num_classes=num_classes,
        in_channels=int(data.train_images.shape[1]), resolution=int(resolution),
        class_names=tuple(data.class_names[:num_classes]), augment=augment,
    )


def _resize(x: torch.Tensor, resolution: int, chunk: int = 4096) -> torch.Tensor:
    """Resize ``[N, C, H, W]`` images to ``resolution`` (antialiased bilinear), keeping the dtype."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    out = []
    for part in x.split(chunk):
        y = F.interpolate(part.float(), size=(resolution, resolution), mode="bilinear",
                          antialias=True, align_corners=False)
        if x.dtype == torch.uint8:
            y = y.round_().clamp_(0, 255).to(torch.uint8)
        out.append(y)
    return torch.cat(out)
