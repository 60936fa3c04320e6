"""Datasets: one registry, ``load_dataset(DatasetConfig, seed) -> DataSplits``."""

from eatnas.data.augment import BatchAugment
from eatnas.data.config import DatasetConfig
from eatnas.data.registry import DATASETS, load_dataset
from eatnas.data.splits import DataSplits, LazySplit, Split, TensorSplit

__all__ = ["BatchAugment", "DATASETS", "DataSplits", "DatasetConfig", "LazySplit", "Split", "TensorSplit",
           "load_dataset"]
