"""Joint architecture + bit-width search (JASQ): one genome (:class:`eatnas.space.quant.QuantSpace`),
one evolution, mutations on either the architecture or the bit genes.

Each candidate is trained in float (from scratch, ``epochs``; the same budget for every candidate),
then post-training quantized with its bit genes and evaluated on the validation split. Metrics:
``accuracy`` (quantized, validation), ``float_accuracy``, ``size_mb`` (packed) and ``params``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from eatnas.quant.apply import quantize_model
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import model_size
from eatnas.search.engine import Evolution, SearchResult
from eatnas.search.evaluators import Evaluator
from eatnas.search.fitness import Fitness
from eatnas.search.strategies import make_strategy
from eatnas.search.tasks import EvalResult, EvalTask
from eatnas.search.workers import SerialExecutor
from eatnas.space.base import BuildSpec
from eatnas.space.quant import QuantSpace
from eatnas.quant.search import engine_settings
from eatnas.utils.io import append_jsonl


class JointEvaluator(Evaluator):
    """Train the base architecture, quantize it with the candidate's bit genes, validate."""

    def __init__(self, space: QuantSpace, splits: Any, epochs: float, train_cfg: Any, device: str = "cpu",
                 scheme: str = "per_channel", keep_models: bool = False) -> None:
        self.space, self.splits, self.epochs, self.train_cfg = space, splits, epochs, train_cfg
        self.device, self.scheme, self.keep_models = device, scheme, keep_models
        self.spec = BuildSpec(splits.num_classes, splits.resolution, splits.in_channels)
        self.models: dict[str, torch.nn.Module] = {}  # canonical key -> trained float model (keep_models)

    def evaluate(self, task: EvalTask) -> EvalResult:
        from eatnas.train.trainer import evaluate, train_model

        arch = self.space.decode(task.arch)
        model = self.space.build(arch, self.spec)
        m = train_model(model, self.splits, epochs=self.epochs, cfg=self.train_cfg, device=self.device, seed=task.seed)
        model = model.to("cpu").eval()
        policy = self.space.policy(arch, model)
        qacc = evaluate(quantize_model(model, policy, self.scheme), self.splits.val, "cpu")[0]
        if self.keep_models:
            self.models[task.key] = copy.deepcopy(model)
        return EvalResult(metrics={"accuracy": qacc, "float_accuracy": m.accuracy, "params": m.params, "macs": m.macs,
                                   "size_mb": model_size(model, policy, self.scheme).mb})


def run_joint_search(space: QuantSpace, splits: Any, qs: QuantSettings, epochs: float, train_cfg: Any,
                     seed: int = 0, out: str | Path | None = None, keep_models: bool = False,
                     device: str = "cpu") -> tuple[SearchResult, JointEvaluator]:
    """One evolution over architecture + bit genes with the JASQ fitness on ``size_mb``."""
    settings, strategy_name, controller = engine_settings(qs.search, seed)
    fitness = Fitness(objective="jasq", cost="size_mb", target=qs.target_mb, alpha=qs.alpha, beta=qs.beta)
    evaluator = JointEvaluator(space, splits, epochs, train_cfg, device, qs.scheme, keep_models)
    history = Path(out) / "history.jsonl" if out is not None else None
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        history.unlink(missing_ok=True)

    def on_record(rec: Any) -> None:
        if history is not None:
            append_jsonl(history, {**rec.task.to_dict(), "status": rec.result.status, "metrics": rec.result.metrics,
                                   "error": rec.result.error})

    engine = Evolution(space, make_strategy(strategy_name, space, controller, seed=seed), fitness, settings,
                       SerialExecutor(evaluator), on_record=on_record)
    return engine.run(), evaluator
