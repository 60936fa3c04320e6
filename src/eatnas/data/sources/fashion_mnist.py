"""Fashion-MNIST (60,000 + 10,000 grey 28×28 images, 10 classes) from IDX files, held in memory."""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from eatnas.data.config import DatasetConfig
from eatnas.data.idx import read_idx
from eatnas.data.memory import ArrayData, tensor_splits
from eatnas.data.registry import DATASETS
from eatnas.data.roots import missing_data, root_of
from eatnas.data.splits import DataSplits

#: Where the Debian package ``dataset-fashion-mnist`` installs the files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MEAN, STD = (0.2860,), (0.3530,)


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def candidate_dirs(root: str | None) -> list[Path]:
    """Directories searched in order: the configured root (plain or torchvision layout), then the system copy."""
    dirs = []
    if root:
        base = root_of(root)
        dirs += [base, base / "FashionMNIST" / "raw", base / "fashion-mnist"]
    dirs.append(SYSTEM_DIR)
    return dirs


def locate(root: str | None, download: bool) -> Path:
    """The directory holding all four IDX files; download with torchvision only when allowed."""
    dirs = candidate_dirs(root)
    for d in dirs:
        if all(_find(d, stem) for stem in FILES.values()):
            return d
    if download:
        import torchvision

        base = root_of(root)
        torchvision.datasets.FashionMNIST(str(base), train=True, download=True)
        torchvision.datasets.FashionMNIST(str(base), train=False, download=True)
        return base / "FashionMNIST" / "raw"
    raise missing_data("fashion_mnist", "the IDX files (train-images-idx3-ubyte.gz, ...)", dirs,
                       hint="install the Debian package 'dataset-fashion-mnist'")


@functools.lru_cache(maxsize=2)
def fashion_arrays(root: str | None = None, download: bool = False) -> ArrayData:
    d = locate(root, download)
    arr = {key: read_idx(_find(d, stem)) for key, stem in FILES.items()}  # type: ignore[arg-type]
    return ArrayData(
        train_images=arr["train_images"][:, None], train_labels=arr["train_labels"].astype("int64"),
        test_images=arr["test_images"][:, None], test_labels=arr["test_labels"].astype("int64"),
        class_names=CLASSES, mean=MEAN, std=STD, shift=2 / 28, flip=True,
    )


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(cfg: DatasetConfig, seed: int, device: torch.device | None) -> DataSplits:
    return tensor_splits("fashion_mnist", fashion_arrays(cfg.root, cfg.download), cfg, seed, device)
