"""Scaling the basic architecture to the target task.

The target's resolution, class count and input channels enter through the :class:`BuildSpec`
(the block space's stride rule adapts the stem to the resolution). When a cost ceiling is set,
every width token and every depth token is shifted by the same number of adjacent steps
(``-scale_steps .. +scale_steps`` each; values clip at the ends of their range): a uniform width
multiplier and a uniform depth change expressed in the space's own tokens, so the scaled
architecture stays a member of the search space. Among the shifts that meet the ceiling, the one
with the largest cost wins (ties: fewest steps). The search is a finite grid, so it always ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from eatnas.errors import ConfigError, EatnasError
from eatnas.space.base import Arch, BuildSpec, Cost, SearchSpace
from eatnas.transfer.adjacency import DEPTH_NAMES, WIDTH_NAMES, positions_named

METRICS = ("macs", "params")


@dataclass(frozen=True)
class Scaled:
    """A scaled architecture: the width/depth steps applied and its cost at ``spec``."""

    arch: Arch
    width_steps: int
    depth_steps: int
    cost: Cost
    spec: BuildSpec

    def value(self, metric: str) -> int:
        return int(getattr(self.cost, metric))


def shift(space: SearchSpace, arch: Arch, width_steps: int, depth_steps: int) -> tuple[int, ...]:
    """Tokens of ``arch`` with every width token moved ``width_steps`` and every depth token ``depth_steps``."""
    toks = list(space.tokens(arch))
    sizes = space.vocab_sizes()
    for positions, steps in ((positions_named(space, WIDTH_NAMES), width_steps),
                             (positions_named(space, DEPTH_NAMES), depth_steps)):
        for p in positions:
            toks[p] = min(max(toks[p] + steps, 0), sizes[p] - 1)
    return tuple(toks)


def scale_to_target(space: SearchSpace, arch: Arch, spec: BuildSpec, *, metric: str = "macs",
                    target: float | None = None, max_steps: int = 3) -> Scaled:
    """Rebuild ``arch`` for ``spec``; with a ``target``, scale width/depth to the largest cost <= target."""
    if metric not in METRICS:
        raise ConfigError(f"transfer.cost_metric={metric!r}; choose one of {list(METRICS)}")
    space.validate(arch)
    if target is None:
        return Scaled(arch, 0, 0, space.cost(arch, spec), spec)
    has_width = bool(positions_named(space, WIDTH_NAMES))
    has_depth = bool(positions_named(space, DEPTH_NAMES))
    steps = range(-max_steps, max_steps + 1)
    seen: dict[tuple[int, ...], Scaled] = {}
    for w in steps if has_width else (0,):
        for d in steps if has_depth else (0,):
            toks = shift(space, arch, w, d)
            if toks in seen or not space.is_valid_tokens(toks):
                continue
            cand = space.from_tokens(toks)
            seen[toks] = Scaled(cand, w, d, space.cost(cand, spec), spec)
    feasible = [s for s in seen.values() if s.value(metric) <= target]
    if not feasible:
        cheapest = min(s.value(metric) for s in seen.values())
        raise EatnasError(
            f"transfer.cost_target={target:g} {metric} cannot be met at {spec.input_size}px with "
            f"{spec.num_classes} classes: the cheapest scaled basic architecture (widths/depths shifted by up to "
            f"{max_steps} steps) costs {cheapest} {metric}; raise transfer.cost_target or transfer.scale_steps"
        )
    return max(feasible, key=lambda s: (s.value(metric), -(abs(s.width_steps) + abs(s.depth_steps)),
                                        -abs(s.width_steps)))
