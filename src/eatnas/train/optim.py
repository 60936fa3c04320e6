"""SGD with weight decay on weights only, per-parameter lr multipliers, and the cosine schedule."""

from __future__ import annotations

import math
from typing import Mapping

import torch
from torch import nn

from eatnas.train.config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig, lr_scale: float = 1.0,
                   lr_multipliers: Mapping[str, float] | None = None) -> torch.optim.SGD:
    """SGD over the trainable parameters; tensors with ``ndim <= 1`` (BN, biases) get no weight decay.

    ``lr_multipliers`` maps parameter names to a factor on the learning rate (e.g. a lower rate
    for inherited weights); names not in it use factor 1.
    """
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = (p.ndim > 1, float((lr_multipliers or {}).get(name, 1.0)))
        groups.setdefault(key, []).append(p)
    base = cfg.lr * lr_scale
    param_groups = [
        {"params": ps, "lr": base * mult, "weight_decay": cfg.weight_decay if decay else 0.0}
        for (decay, mult), ps in sorted(groups.items())
    ]
    return torch.optim.SGD(param_groups, lr=base, momentum=cfg.momentum,
                           nesterov=cfg.nesterov and cfg.momentum > 0)


def cosine_factor(step: int, total: int) -> float:
    """Learning-rate factor at ``step`` of ``total``: 1 at the start, decaying to 0 along a half cosine."""
    if total <= 0:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
