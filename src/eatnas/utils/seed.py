"""Seeding: one config seed fixes every random choice."""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(seed: int, *names: object) -> int:
    """A stable 31-bit seed derived from a base seed and a path of names (e.g. stage, candidate)."""
    h = hashlib.sha256(repr((int(seed),) + tuple(str(n) for n in names)).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch; on CPU, request deterministic algorithms."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
