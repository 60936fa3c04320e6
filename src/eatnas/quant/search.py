"""Bit-policy search for a fixed trained network (JASQ's quantization-only search).

Genome = bits per unit of the network (:class:`eatnas.space.quant.PolicySpace`); evaluation = PTQ of
the trained float weights with that policy, then validation accuracy (never the test split); fitness
= JASQ ``accuracy * (size_mb / T) ** w`` (:class:`eatnas.search.fitness.Fitness`). The evolution is the
project engine (:class:`eatnas.search.engine.Evolution`) with an injected space, strategy, fitness and
evaluator. The initial population starts with the uniform policies (every bit-width of the set) so the
uniform 2/4/8/16-bit and float baselines are evaluated in the same run.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Callable, Mapping

from torch import nn

from eatnas.quant.policy import average_bits
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import model_size
from eatnas.search.engine import Evolution, EvolutionSettings, InitCandidate, Record, SearchResult
from eatnas.search.evaluators import Evaluator
from eatnas.search.fitness import Fitness, pareto_front
from eatnas.search.strategies import make_strategy
from eatnas.search.tasks import EvalResult, EvalTask
from eatnas.search.workers import SerialExecutor
from eatnas.space.quant import PolicySpace
from eatnas.utils.io import append_jsonl

log = logging.getLogger(__name__)
AccuracyFn = Callable[[nn.Module], float]


class PolicyEvaluator(Evaluator):
    """PTQ with the candidate policy, then ``accuracy_fn`` (validation accuracy, %) and the size."""

    def __init__(self, space: PolicySpace, accuracy_fn: AccuracyFn, size_format: str = "packed") -> None:
        self.space, self.accuracy_fn, self.size_format = space, accuracy_fn, size_format

    def evaluate(self, task: EvalTask) -> EvalResult:
        arch = self.space.decode(task.arch)
        model = self.space.build(arch)
        policy = self.space.policy(arch)
        size = model_size(self.space.model, policy, self.space.scheme, self.size_format)
        return EvalResult(metrics={"accuracy": float(self.accuracy_fn(model)), "size_mb": size.mb,
                                   "avg_bits": average_bits(self.space.model, policy)})


def engine_settings(search: Mapping[str, Any], seed: int) -> tuple[EvolutionSettings, str, dict]:
    """``(EvolutionSettings, strategy name, controller options)`` from a ``$defs/search`` mapping."""
    s = dict(search or {})
    settings = EvolutionSettings(population=int(s.get("population", 8)), sample=int(s.get("sample", 3)),
                                 removal=str(s.get("removal", "oldest")), evaluations=int(s.get("evaluations", 24)),
                                 wall_time_s=s.get("wall_time_s"), workers=1, seed=int(seed))
    return settings, str(s.get("strategy", "renas")), dict(s.get("controller") or {})


def record_row(rec: Record, label: str | None = None) -> dict:
    m = rec.result.metrics
    return {"index": rec.task.index, "label": label or ("init" if rec.task.init else "child"), "arch": rec.task.arch,
            "accuracy": m.get("accuracy"), "size_mb": m.get("size_mb"), "avg_bits": m.get("avg_bits"),
            "fitness": rec.fitness, "status": rec.result.status, "error": rec.result.error}


def run_policy_search(model: nn.Module, accuracy_fn: AccuracyFn, qs: QuantSettings, out: str | Path | None,
                      seed: int = 0, selection: str = "fitness") -> tuple[PolicySpace, SearchResult]:
    """Search a bit policy for ``model``; logs ``history.jsonl`` under ``out`` when given.

    ``selection``: ``fitness`` (JASQ scalar fitness tournament) or ``pareto``
    (:class:`eatnas.quant.pareto.ParetoEvolution`, parents from the (accuracy, size) front of all evaluations).
    """
    if selection not in ("fitness", "pareto"):
        raise ValueError(f"selection {selection!r} is unknown; choose fitness or pareto")
    space = PolicySpace(model, qs.bits, qs.granularity, qs.keep_float, scheme=qs.scheme)
    settings, strategy_name, controller = engine_settings(qs.search, seed)
    fitness = Fitness(objective="jasq", cost="size_mb", target=qs.target_mb, alpha=qs.alpha, beta=qs.beta)
    init = [InitCandidate(space.uniform(b)) for b in sorted(qs.bits)]
    settings = EvolutionSettings(**{**settings.__dict__, "population": max(settings.population, len(init)),
                                    "evaluations": max(settings.evaluations, len(init) + 1)})
    history = Path(out) / "history.jsonl" if out is not None else None
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        history.unlink(missing_ok=True)

    def on_record(rec: Record) -> None:
        m = rec.result.metrics
        log.info("policy %d %s: acc %.2f size %.4f MB", rec.task.index, rec.task.arch,
                 m.get("accuracy", float("nan")), m.get("size_mb", float("nan")))
        if history is not None:
            append_jsonl(history, {**rec.task.to_dict(), "status": rec.result.status, "metrics": m,
                                   "error": rec.result.error})

    strategy = make_strategy(strategy_name, space, controller, seed=seed)
    from eatnas.quant.pareto import ParetoEvolution

    engine = (ParetoEvolution if selection == "pareto" else Evolution)(space, strategy, fitness, settings, SerialExecutor(PolicyEvaluator(space, accuracy_fn, qs.size_format)),
                       init=init, on_record=on_record)
    return space, engine.run()


def uniform_label(space: PolicySpace, arch_string: str) -> str | None:
    """``uniform-<b>`` (``float`` for 32) when the policy string is uniform, else ``None``."""
    bits = set(space.decode(arch_string))
    if len(bits) != 1:
        return None
    b = bits.pop()
    return "float" if b == 32 else f"uniform-{b}"


def frontier_rows(space: PolicySpace, result: SearchResult) -> list[dict]:
    """Every successful evaluation with its label and whether it is on the (accuracy, size) Pareto front."""
    ok = [r for r in result.records if r.ok]
    pts = [(r.result.metrics["accuracy"], r.result.metrics["size_mb"]) for r in ok]
    front = set(pareto_front(pts))
    best = result.best()
    rows = []
    for i, r in enumerate(ok):
        label = uniform_label(space, r.task.arch) or ("searched-best" if best is not None and r is best else "searched")
        rows.append({**record_row(r, label), "pareto": i in front})
    return rows


def write_frontier_csv(path: str | Path, rows: list[dict]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ["index", "label", "accuracy", "size_mb", "avg_bits", "fitness", "pareto", "arch"]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for row in sorted(rows, key=lambda r: r["size_mb"]):
            w.writerow(row)
