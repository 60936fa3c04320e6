"""What a transfer-family stage needs from the config: the space, a task's data and build spec, training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

from eatnas.config import from_dict
from eatnas.errors import ArchStringError, EatnasError
from eatnas.space.base import Arch, BuildSpec, SearchSpace


def space_from_config(cfg: Mapping[str, Any]) -> SearchSpace:
    """The configured search space, built exactly as the search stage builds it."""
    from eatnas.search.stage import space_from_config as search_space

    return search_space(cfg)[0]


def decode_in_space(space: SearchSpace, text: str, source: str, recorded_space: str | None = None) -> Arch:
    """Parse an architecture string read from ``source``; errors name the file and the space mismatch."""
    if recorded_space is not None and recorded_space != space.name:
        raise EatnasError(
            f"{source}: architecture is from space {recorded_space!r} but the config uses space.name="
            f"{space.name!r}; set space.name: {recorded_space} or use results of a {space.name} search"
        )
    try:
        arch = space.decode(text)
        space.validate(arch)
    except (ArchStringError, ValueError) as exc:
        raise EatnasError(f"{source}: {exc} (architecture {text!r} is not a searchable {space.name!r} "
                          f"architecture; check space.name and the space options)") from None
    return arch


@dataclass
class Task:
    """One dataset ready for training: its splits and the matching build spec."""

    role: str  # "small" or "large"
    splits: Any
    spec: BuildSpec


def load_task(cfg: Mapping[str, Any], role: str, seed: int) -> Task:
    """Load ``data.<role>`` (``small`` or ``large``) with the config's seed."""
    from eatnas.data import DatasetConfig, load_dataset

    dcfg = from_dict(DatasetConfig, cfg["data"][role], f"data.{role}")
    splits = load_dataset(dcfg, seed)
    return Task(role, splits, BuildSpec(num_classes=splits.num_classes, input_size=splits.resolution,
                                        in_channels=splits.in_channels))


def train_settings(cfg: Mapping[str, Any]):
    """The ``train`` section as the trainer's ``TrainConfig``."""
    from eatnas.train import TrainConfig

    return from_dict(TrainConfig, cfg.get("train"), "train")


def device_of(cfg: Mapping[str, Any]) -> torch.device:
    from eatnas.utils.device import resolve_device, set_threads

    set_threads(int(cfg.get("threads", 2)))
    return resolve_device(cfg.get("device", "auto"))
