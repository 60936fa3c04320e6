"""Real training evaluator: build the candidate, optionally inherit its parent's weights, train, validate.

Initial members train ``init_epochs`` (from scratch, or from the checkpoint a seed population gives);
children train ``child_epochs``, fine-tuned from the parent's checkpoint when ``inherit`` is on (RENAS)
or from scratch otherwise. Every candidate's weights are saved to ``checkpoint_dir/<index>.pt`` so its
own children can inherit them. A diverging (NaN) or crashing candidate becomes a failed result.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from eatnas.search.evaluators import EVALUATORS, Evaluator
from eatnas.search.tasks import EvalResult, EvalTask

_DATA_CACHE: dict[tuple, Any] = {}


@EVALUATORS.register("train")
class TrainingEvaluator(Evaluator):
    """Trains each candidate with :func:`eatnas.train.train_model`; picklable (data loads lazily per process)."""

    def __init__(self, space_name: str, space_options: Mapping[str, Any], dataset: Mapping[str, Any],
                 train: Mapping[str, Any], *, init_epochs: float, child_epochs: float, inherit: bool = True,
                 checkpoint_dir: str | None = None, device: str = "cpu", data_seed: int = 0) -> None:
        self.space_name, self.space_options = space_name, dict(space_options)
        self.dataset, self.train = dict(dataset), dict(train)
        self.init_epochs, self.child_epochs, self.inherit = float(init_epochs), float(child_epochs), bool(inherit)
        self.checkpoint_dir = str(checkpoint_dir) if checkpoint_dir else None
        self.device, self.data_seed = device, int(data_seed)

    def splits(self) -> Any:
        """The dataset splits, loaded once per process."""
        from eatnas.config import from_dict
        from eatnas.data import DatasetConfig, load_dataset
        from eatnas.utils.device import resolve_device

        key = (tuple(sorted(self.dataset.items())), self.data_seed, self.device)
        if key not in _DATA_CACHE:
            cfg = from_dict(DatasetConfig, self.dataset, "data")
            _DATA_CACHE[key] = load_dataset(cfg, self.data_seed, resolve_device(self.device))
        return _DATA_CACHE[key]

    def evaluate(self, task: EvalTask) -> EvalResult:
        import torch

        from eatnas.config import from_dict
        from eatnas.space.base import BuildSpec, get_space
        from eatnas.train import TrainConfig, inherit_weights, load_checkpoint, save_checkpoint, train_model
        from eatnas.utils.device import resolve_device

        device = resolve_device(self.device)
        try:
            splits = self.splits()
            space = get_space(self.space_name, **self.space_options)
            arch = space.decode(task.arch)
            model = space.build(arch, BuildSpec(splits.num_classes, splits.resolution, splits.in_channels))
            inherited = 0
            source = task.parent_checkpoint if (task.init or self.inherit) else None
            if source:
                report = inherit_weights(model, load_checkpoint(source)["model"])
                inherited = len(report.inherited) + len(report.adapted)
            epochs = self.init_epochs if task.init else self.child_epochs
            cfg = from_dict(TrainConfig, self.train, "train")
            m = train_model(model, splits, epochs=epochs, cfg=cfg, device=device, seed=task.seed)
            if not math.isfinite(m.accuracy) or not math.isfinite(m.loss):
                return EvalResult.failure(f"non-finite validation accuracy/loss ({m.accuracy}, {m.loss})")
            metrics = {"accuracy": m.accuracy, "loss": m.loss, "params": m.params, "macs": m.macs,
                       "size_mb": m.params * 4 / 1e6, "train_time_s": m.wall_time_s, "epochs": m.epochs,
                       "inherited_tensors": inherited, "from_checkpoint": source}
            path = None
            if self.checkpoint_dir:
                path = str(Path(self.checkpoint_dir) / f"{task.index:05d}.pt")
                save_checkpoint(path, model, arch=task.arch,
                                extra={"index": task.index, "key": task.key, "accuracy": float(m.accuracy)})
            return EvalResult(metrics=metrics, checkpoint=path)
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
