"""``Metrics``: what one training run reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Metrics:
    """Result of :func:`eatnas.train.train_model`.

    accuracy / loss: validation top-1 (%) and cross-entropy (no label smoothing);
    test_accuracy / test_loss: the same on the test split when requested, else ``None``;
    wall_time_s: the whole call (training and evaluation); images_per_s: training throughput;
    params / macs: parameter count and multiply-accumulates for one image;
    epochs / steps: the training budget actually run; train_loss: mean training loss (with smoothing).
    """

    accuracy: float
    loss: float
    test_accuracy: float | None
    wall_time_s: float
    images_per_s: float
    params: int
    macs: int
    epochs: float
    steps: int = 0
    train_loss: float = float("nan")
    test_loss: float | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
