"""CIFAR-10 / CIFAR-100 from torchvision's on-disk format (pickled python batches), held in memory."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eatnas.data.config import DatasetConfig
from eatnas.data.memory import ArrayData, tensor_splits
from eatnas.data.registry import DATASETS
from eatnas.data.roots import missing_data, root_of
from eatnas.data.splits import DataSplits
from eatnas.errors import DataError

#: name -> (folder, train files, test files, meta file, label key, class-name key, mean, std)
LAYOUTS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str, str, str, tuple, tuple]] = {
    "cifar10": ("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                "batches.meta", "labels", "label_names",
                (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ("cifar-100-python", ("train",), ("test",), "meta", "fine_labels", "fine_label_names",
                 (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}


def _unpickle(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise DataError(f"{path}: cannot read CIFAR batch ({exc.__class__.__name__}); the file is damaged, "
                        f"delete it and download again") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a CIFAR batch (expected a dict); delete it and download again")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read(paths: list[Path], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for p in paths:
        batch = _unpickle(p)
        if "data" not in batch or label_key not in batch:
            raise DataError(f"{p}: CIFAR batch lacks 'data' or {label_key!r}; delete it and download again")
        images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[label_key], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def locate(name: str, root: str | None, download: bool) -> Path:
    """The batches folder under ``root`` (or ``root`` itself); torchvision downloads only when allowed."""
    folder, train_files = LAYOUTS[name][0], LAYOUTS[name][1]
    base = root_of(root)
    for d in (base / folder, base):
        if all((d / f).is_file() for f in train_files):
            return d
    if download:
        import torchvision

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        cls(str(base), train=True, download=True)
        return base / folder
    raise missing_data(name, f"the folder {folder!r}", [base / folder])


def cifar_arrays(name: str, root: str | None = None, download: bool = False) -> ArrayData:
    folder, train_files, test_files, meta, label_key, names_key, mean, std = LAYOUTS[name]
    d = locate(name, root, download)
    train_x, train_y = _read([d / f for f in train_files], label_key)
    test_paths = [d / f for f in test_files]
    test_x, test_y = _read(test_paths, label_key) if all(p.is_file() for p in test_paths) else (None, None)
    classes = _unpickle(d / meta).get(names_key) if (d / meta).is_file() else None
    n = int(train_y.max()) + 1
    class_names = tuple(str(c) for c in classes) if classes else tuple(str(c) for c in range(n))
    return ArrayData(train_x, train_y, test_x, test_y, class_names, mean, std, shift=4 / 32, flip=True)


@DATASETS.register("cifar10")
def load_cifar10(cfg: DatasetConfig, seed: int, device: torch.device | None) -> DataSplits:
    return tensor_splits("cifar10", cifar_arrays("cifar10", cfg.root, cfg.download), cfg, seed, device)


@DATASETS.register("cifar100")
def load_cifar100(cfg: DatasetConfig, seed: int, device: torch.device | None) -> DataSplits:
    return tensor_splits("cifar100", cifar_arrays("cifar100", cfg.root, cfg.download), cfg, seed, device)
