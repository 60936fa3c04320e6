"""Evaluators: turn an :class:`EvalTask` into an :class:`EvalResult` (metrics with ``accuracy``).

All evaluators are picklable so that worker processes and Ray tasks can run them.
``TableEvaluator`` looks NAS-Bench-201 cells up in a table; ``TrainingEvaluator`` (in
:mod:`eatnas.search.training_evaluator`) trains real networks.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np

from eatnas.registry import Registry
from eatnas.search.tasks import EvalResult, EvalTask

EVALUATORS: Registry[type["Evaluator"]] = Registry("evaluator")


class Evaluator(ABC):
    """Scores one candidate; must not raise for a bad candidate (return ``EvalResult.failure``)."""

    @abstractmethod
    def evaluate(self, task: EvalTask) -> EvalResult:
        """Evaluate ``task`` and report validation ``accuracy`` (%) plus any cost metrics."""

    def __call__(self, task: EvalTask) -> EvalResult:
        started = time.time()
        try:
            result = self.evaluate(task)
        except Exception as exc:  # noqa: BLE001 - a failing candidate is recorded, the search goes on
            result = EvalResult.failure(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        result.started = result.started or started
        result.finished = result.finished or time.time()
        return result


@EVALUATORS.register("table")
class TableEvaluator(Evaluator):
    """NAS-Bench-201 lookup: mean validation accuracy, or one random seed's value when ``noisy``.

    The noisy draw is seeded by the task seed, so a replayed search sees the same values. Reported
    metrics: ``accuracy`` (validation, %), ``params`` and ``size_mb`` (float32 weights). Test accuracy is
    never reported to the search.
    """

    def __init__(self, table_path: str, noisy: bool = False) -> None:
        from eatnas.search.nb201_table import load_table

        self.table_path = str(table_path)
        self.noisy = bool(noisy)
        self.table = load_table(self.table_path)

    def __getstate__(self) -> dict:
        return {"table_path": self.table_path, "noisy": self.noisy}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["table_path"], state["noisy"])

    def evaluate(self, task: EvalTask) -> EvalResult:
        ops = tuple(int(c) for c in _ops_of(task.arch))
        rng = np.random.default_rng(task.seed) if self.noisy else None
        acc = self.table.valid(ops, rng)
        params = float(self.table.params_mb[self.table.row(ops)]) * 1e6
        return EvalResult(metrics={"accuracy": acc, "params": int(round(params)), "size_mb": params * 4 / 1e6})


def _ops_of(arch: str) -> str:
    from eatnas.space.nb201 import NB201Space

    return "".join(str(t) for t in NB201Space().decode(arch))
