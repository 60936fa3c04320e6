"""Resumable training: the optimisation state saved at epoch boundaries and restored by the next run.

A state file belongs to one training run, identified by :func:`resume_key` (budget, seed, training
config, data and the model's parameter shapes). A file written for another run is ignored (with a
warning), so a changed config starts afresh instead of continuing the wrong training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from eatnas.data.splits import DataSplits
from eatnas.train.config import TrainConfig
from eatnas.utils.io import atomic_write

log = logging.getLogger(__name__)

FORMAT = "eatnas-train-state"


@dataclass(frozen=True)
class Restored:
    """Where a resumed run continues: the next step and the training-loss sum so far."""

    step: int
    loss_sum: float


def resume_key(model: nn.Module, splits: DataSplits, total: int, cfg: TrainConfig, seed: int, lr_scale: float,
               lr_multipliers: Mapping[str, float] | None) -> str:
    """Digest of everything that fixes the sequence of training steps."""
    what = {
        "total": total, "seed": seed, "cfg": dataclasses.asdict(cfg), "lr_scale": lr_scale,
        "lr_multipliers": dict(sorted((lr_multipliers or {}).items())),
        "data": [splits.name, len(splits.train), splits.resolution, splits.in_channels],
        "params": [[name, list(t.shape)] for name, t in model.state_dict().items()],
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:20]


def save_train_state(path: str | os.PathLike, key: str, step: int, model: nn.Module,
                     optimizer: torch.optim.Optimizer, loss_sum: float) -> None:
    """Write the state after ``step`` steps atomically (a kill leaves the previous state intact)."""
    payload: dict[str, Any] = {
        "format": FORMAT, "key": key, "step": step, "loss_sum": float(loss_sum),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    atomic_write(path, lambda fh: torch.save(payload, fh))


def load_train_state(path: str | os.PathLike, key: str, model: nn.Module,
                     optimizer: torch.optim.Optimizer) -> Restored | None:
    """Restore model, optimiser and RNG state from ``path``; ``None`` when there is nothing to resume."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or foreign file: start afresh, the old state cannot be used
        log.warning("%s: unreadable training state (%s); training from the start", path, exc.__class__.__name__)
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("key") != key:
        log.warning("%s: training state of another run (config, data or model changed); training from the start",
                    path)
        return None
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng"])
    if payload["cuda_rng"] and torch.cuda.is_available() and len(payload["cuda_rng"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    log.info("%s: resuming training at step %d", path, payload["step"])
    return Restored(int(payload["step"]), float(payload["loss_sum"]))
