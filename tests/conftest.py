"""Shared test set-up: CPU threads, GPU skipping, results folders and a trained digits parent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One intra-op thread by default: on the shared 2-core machine, two OpenMP threads per test process
# ran the digits trainer up to 6x slower than one while other jobs competed for the cores.
torch.set_num_threads(int(os.environ.get("EATNAS_TEST_THREADS", "1")))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests when no CUDA device is present."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tmp_results(tmp_path: Path) -> Path:
    """An empty ``results/`` folder for a test run."""
    out = tmp_path / "results"
    out.mkdir()
    return out


@pytest.fixture(scope="session")
def digits_splits():
    """The digits dataset (seed 0, default split, augmentation on)."""
    from eatnas.data import DatasetConfig, load_dataset

    return load_dataset(DatasetConfig(name="digits"), seed=0)


@pytest.fixture(scope="session")
def digits_parent(digits_splits):
    """A reference net trained briefly on digits: ``(model, metrics)`` (shared by trainer and inheritance tests)."""
    from eatnas.train import TrainConfig, train_model
    from eatnas.train.refnet import RefNet

    torch.manual_seed(0)
    model = RefNet(1, 10, widths=(16, 24), depths=(2, 2), kernels=(3, 3))
    metrics = train_model(model, digits_splits, epochs=6, cfg=TrainConfig(batch_size=64, lr=0.1), seed=0, test=True)
    return model, metrics
