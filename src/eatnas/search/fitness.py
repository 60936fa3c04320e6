"""Fitness functions and the (accuracy, cost) Pareto front.

``accuracy``: fitness = validation accuracy.
``jasq``: fitness = accuracy * (cost / T) ** w with w = alpha when cost <= T and beta above (JASQ, MnasNet-style).
T (``target``) may be null: it is then set to the mean cost of the initial population (JASQ code) once
every initial candidate has been evaluated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from eatnas.errors import ConfigError

COST_KEYS = ("size_mb", "params", "macs", "latency")


@dataclass
class Fitness:
    """Maps an evaluation's metrics to the scalar the evolution maximises."""

    objective: str = "accuracy"
    cost: str = "macs"
    target: float | None = None
    alpha: float = -0.07
    beta: float = -0.07

    def __post_init__(self) -> None:
        if self.objective not in ("accuracy", "jasq"):
            raise ConfigError(f"fitness.objective {self.objective!r} is unknown; choose accuracy or jasq")
        if self.target is not None and not self.target > 0:
            raise ConfigError(f"fitness.target must be > 0 or null, got {self.target!r}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> "Fitness":
        cfg = dict(cfg or {})
        return cls(**{k: cfg[k] for k in ("objective", "cost", "target", "alpha", "beta") if k in cfg})

    @property
    def needs_target(self) -> bool:
        """True while a JASQ target must still be calibrated from the initial population."""
        return self.objective == "jasq" and self.target is None

    def cost_of(self, metrics: Mapping[str, Any]) -> float:
        key = self.cost
        if key not in metrics or metrics[key] is None:
            raise ConfigError(f"fitness.cost {key!r} is not reported by the evaluator (has {sorted(metrics)}); "
                              f"choose one of the reported cost keys")
        return float(metrics[key])

    def calibrate(self, metrics: Iterable[Mapping[str, Any]]) -> None:
        """Set a null target to the mean cost of ``metrics`` (the initial population)."""
        costs = [self.cost_of(m) for m in metrics]
        if self.needs_target and costs:
            self.target = max(sum(costs) / len(costs), 1e-12)

    def __call__(self, metrics: Mapping[str, Any]) -> float:
        acc = float(metrics["accuracy"])
        if self.objective == "accuracy":
            return acc
        if self.target is None:
            raise RuntimeError("jasq fitness used before its target was calibrated")
        ratio = max(self.cost_of(metrics), 1e-12) / self.target
        w = self.alpha if ratio <= 1.0 else self.beta
        return acc * ratio ** w


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points (maximise accuracy, minimise cost), sorted by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
    front, best_acc = [], -math.inf
    for i in order:
        if points[i][0] > best_acc:
            front.append(i)
            best_acc = points[i][0]
    return front


def hypervolume(points: Sequence[tuple[float, float]], ref_cost: float, ref_acc: float = 0.0) -> float:
    """Area dominated by ``points`` (accuracy up, cost down) inside the box [ref_acc, .] x [., ref_cost].

    Reference point: accuracy ``ref_acc`` (default 0) and cost ``ref_cost`` (callers pass a fixed value,
    e.g. the cost target or the largest cost seen, so that runs stay comparable).
    """
    pts = [(a, c) for a, c in points if a > ref_acc and c < ref_cost]
    area, best_acc = 0.0, ref_acc
    front = [pts[i] for i in pareto_front(pts)]
    # sweep by increasing cost: each front point adds a slab up to the next point's cost
    for k, (acc, cost) in enumerate(front):
        next_cost = front[k + 1][1] if k + 1 < len(front) else ref_cost
        best_acc = max(best_acc, acc)
        area += (best_acc - ref_acc) * (next_cost - cost)
    return area
