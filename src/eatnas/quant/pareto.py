"""Archive-based Pareto parent selection for the quantization searches (multi-objective evolution)."""

from __future__ import annotations

import math

import random

from eatnas.errors import ConfigError
from eatnas.search.engine import Evolution, Record
from eatnas.search.fitness import pareto_front
from eatnas.search.strategies import IsNew, MutationStrategy
from eatnas.space.base import Action


class ParetoEvolution(Evolution):
    """The engine with archive-based Pareto parent selection.

    Parent = a tournament of ``sample`` members drawn from the non-dominated set, over (accuracy, cost),
    of every successful evaluation so far; the contender with the largest exclusive hypervolume
    contribution wins (over log10(cost), reference accuracy 0 and cost 1.1 x the largest cost seen), so
    front points that add little area (e.g. tiny but near-chance models) are rarely mutated; ties at random.
    """

    def _tournament(self) -> Record:
        ok = [r for r in self.records if r.ok and self.fitness.cost in r.result.metrics]
        if not ok:
            return super()._tournament()
        pts = [(float(r.result.metrics["accuracy"]), float(r.result.metrics[self.fitness.cost])) for r in ok]
        front = pareto_front(pts)  # sorted by cost, accuracy increasing
        ref_cost = math.log10(1.1 * max(c for _, c in pts) or 1.0)
        k = min(self.s.sample, len(front))
        picks = self.rng.sample(range(len(front)), k)

        def contribution(j: int) -> float:
            acc, cost = pts[front[j]]
            prev_acc = pts[front[j - 1]][0] if j > 0 else 0.0
            next_cost = math.log10(max(pts[front[j + 1]][1], 1e-12)) if j + 1 < len(front) else ref_cost
            return (acc - prev_acc) * max(next_cost - math.log10(max(cost, 1e-12)), 0.0)

        tie = {j: self.rng.random() for j in picks}
        best = max(picks, key=lambda j: (contribution(j), tie[j]))
        return ok[front[best]]


class GroupedMutation(MutationStrategy):
    """Random mutation of a :class:`eatnas.space.quant.QuantSpace` genome that first picks a move group
    uniformly among the non-empty ones, then an action in it: an architecture field, one unit's bits, or
    (``uniform_moves``) every unit to one bit-width. (Uniform over all actions, the ~40 bit actions and the
    5 uniform moves would be drawn with very different odds than the ~35 architecture fields.)"""

    name = "grouped"

    def propose(self, parent, rng: random.Random, is_new: IsNew) -> Action:
        nb, n_units = self.space._nb, len(self.space.unit_names)
        groups: dict[str, list[Action]] = {"arch": [], "unit": [], "uniform": []}
        for a in self.space.actions(parent):
            groups["arch" if a.position < nb else "unit" if a.position < nb + n_units else "uniform"].append(a)
        live = [g for g in groups.values() if g]
        if not live:
            raise ConfigError(f"architecture {self.space.encode(parent)} has no valid mutation")
        group = live[rng.randrange(len(live))]
        return group[rng.randrange(len(group))]
