"""Archive-based Pareto parent selection for the quantization searches (multi-objective evolution)."""

from __future__ import annotations

import math

from eatnas.search.engine import Evolution, Record
from eatnas.search.fitness import pareto_front


class ParetoEvolution(Evolution):
    """The engine with archive-based Pareto parent selection.

    Parent = a tournament of ``sample`` members drawn from the non-dominated set, over (accuracy, cost),
    of every successful evaluation so far; the contender with the widest log-cost gap between its front
    neighbours wins (a crowding rule that favours sparse regions; the two ends of the front count as
    infinitely wide, so the front is also pushed outwards); ties at random.
    """

    def _tournament(self) -> Record:
        ok = [r for r in self.records if r.ok and self.fitness.cost in r.result.metrics]
        if not ok:
            return super()._tournament()
        pts = [(float(r.result.metrics["accuracy"]), float(r.result.metrics[self.fitness.cost])) for r in ok]
        front = pareto_front(pts)  # sorted by cost
        k = min(self.s.sample, len(front))
        picks = sorted(self.rng.sample(range(len(front)), k))

        def gap(j: int) -> float:  # log-cost distance to the nearest front neighbours (ends: infinite)
            if j == 0 or j == len(front) - 1:
                return math.inf
            lo, hi = pts[front[j - 1]][1], pts[front[j + 1]][1]
            return math.log(max(hi, 1e-12)) - math.log(max(lo, 1e-12))

        tie = {j: self.rng.random() for j in picks}
        best = max(picks, key=lambda j: (gap(j), tie[j]))
        return ok[front[best]]
