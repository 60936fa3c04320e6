"""scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), held in memory."""

from __future__ import annotations

import functools

import numpy as np
import torch

from eatnas.data.config import DatasetConfig
from eatnas.data.memory import ArrayData, tensor_splits
from eatnas.data.partition import stratified_split
from eatnas.data.registry import DATASETS
from eatnas.data.splits import DataSplits

#: The dataset has no official test split: 20% of each class is the test split, always the same
#: one (this seed does not depend on the run seed, so test accuracies are comparable across runs).
TEST_FRACTION = 0.2
TEST_SEED = 20240


@functools.lru_cache(maxsize=1)
def digits_arrays() -> ArrayData:
    """All digits as float32 images in 0..1 (pixel values 0..16 divided by 16) with a fixed test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    train_idx, test_idx = stratified_split(labels, TEST_FRACTION, TEST_SEED)
    train = images[train_idx]
    mean, std = float(train.mean()), float(train.std())
    return ArrayData(
        train_images=train, train_labels=labels[train_idx],
        test_images=images[test_idx], test_labels=labels[test_idx],
        class_names=tuple(str(c) for c in range(10)), mean=(mean,), std=(std,),
        shift=1 / 8, flip=False,
    )


@DATASETS.register("digits")
def load_digits(cfg: DatasetConfig, seed: int, device: torch.device | None) -> DataSplits:
    return tensor_splits("digits", digits_arrays(), cfg, seed, device)
