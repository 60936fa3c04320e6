"""The ``select`` and ``transfer`` config sections as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from eatnas.config import from_dict


@dataclass(frozen=True)
class SelectConfig:
    """Basic-architecture selection: retrain the ``top_k`` of the small search ``seeds`` times for ``epochs``."""

    top_k: int = 3
    seeds: int = 2
    epochs: float = 6


@dataclass(frozen=True)
class TransferConfig:
    """Elastic transfer: offspring generation, scaling to a cost target, parent training.

    population: number of offspring, the basic architecture included.
    move_probability: chance that each token moves to an adjacent value.
    max_distance: largest token distance of an offspring from the basic architecture.
    max_tries: bound on generated candidates (offspring and scaling).
    parent_epochs: epochs the (scaled) basic architecture trains on the large dataset.
    cost_metric / cost_target: optional cost ceiling at the target resolution (``None`` = no scaling).
    scale_steps: widths and depths are shifted by at most this many adjacent steps when scaling.
    evaluate_offspring: record each offspring's inherited validation accuracy (no training).
    silence_new_shortcuts: zero the BN of shortcut branches an offspring has but its parent lacks.
    scratch_baseline: the workflow also runs the from-scratch large search.
    """

    population: int = 8
    move_probability: float = 0.15
    max_distance: int = 4
    max_tries: int = 1000
    parent_epochs: float = 1
    cost_metric: str = "macs"
    cost_target: float | None = None
    scale_steps: int = 3
    evaluate_offspring: bool = True
    silence_new_shortcuts: bool = True
    scratch_baseline: bool = False


def select_config(cfg: Mapping[str, Any]) -> SelectConfig:
    return from_dict(SelectConfig, cfg.get("select"), "select")


def transfer_config(cfg: Mapping[str, Any]) -> TransferConfig:
    return from_dict(TransferConfig, cfg.get("transfer"), "transfer")
