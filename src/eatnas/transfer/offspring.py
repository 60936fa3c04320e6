"""The offspring generator ("elasticity"): distinct perturbed copies of the basic architecture.

Each child starts from the basic architecture's tokens; every token moves with probability
``move_probability`` to an adjacent value (:mod:`eatnas.transfer.adjacency`). A candidate is kept
when it is valid, differs from every child kept so far (``canonical_key``) and lies within
``max_distance`` tokens of the basic architecture. The basic architecture is always child 0.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from eatnas.errors import ArchStringError, EatnasError
from eatnas.space.base import Arch, SearchSpace
from eatnas.transfer.adjacency import adjacent_values
from eatnas.utils.seed import derive_seed


@dataclass(frozen=True)
class Offspring:
    """One child: its architecture, token distance from the basic one, and the positions moved."""

    arch: Arch
    distance: int
    moved: tuple[str, ...]


def perturb(space: SearchSpace, tokens: tuple[int, ...], move_probability: float, rng: random.Random) -> list[int]:
    """Move each token with probability ``move_probability`` to a random adjacent value."""
    out = list(tokens)
    for pos, tok in enumerate(tokens):
        if rng.random() < move_probability:
            choices = adjacent_values(space, pos, tok)
            if choices:
                out[pos] = rng.choice(choices)
    return out


def generate_offspring(space: SearchSpace, basic: Arch, population: int, *, move_probability: float,
                       max_distance: int, max_tries: int, seed: int) -> list[Offspring]:
    """``population`` distinct children of ``basic`` (itself first), reproducible under ``seed``.

    Raises :class:`EatnasError` naming the settings to change when fewer distinct children than
    ``population`` are found in ``max_tries`` candidates.
    """
    if population < 1:
        raise EatnasError(f"transfer.population={population}: must be at least 1")
    if population > 1 and move_probability <= 0:
        raise EatnasError("transfer.move_probability=0 cannot produce offspring; set it in (0, 1]")
    if max_distance < 1 and population > 1:
        raise EatnasError(f"transfer.max_distance={max_distance} allows no offspring; set it to 1 or more")
    space.validate(basic)
    base = tuple(space.tokens(basic))
    names = space.position_names()
    rng = random.Random(derive_seed(seed, "transfer", "offspring"))
    children = [Offspring(basic, 0, ())]
    seen = {space.canonical_key(basic)}
    tries = 0
    while len(children) < population and tries < max_tries:
        tries += 1
        toks = perturb(space, base, move_probability, rng)
        distance = sum(a != b for a, b in zip(toks, base))
        if distance == 0 or distance > max_distance or not space.is_valid_tokens(toks):
            continue
        try:
            arch = space.from_tokens(toks)
        except (ValueError, ArchStringError):
            continue
        key = space.canonical_key(arch)
        if key in seen:
            continue
        seen.add(key)
        moved = tuple(names[i] for i, (a, b) in enumerate(zip(toks, base)) if a != b)
        children.append(Offspring(arch, space.distance(basic, arch), moved))
    if len(children) < population:
        raise EatnasError(
            f"offspring generator found only {len(children)} of transfer.population={population} distinct children "
            f"in transfer.max_tries={max_tries} tries (move_probability={move_probability}, "
            f"max_distance={max_distance}); raise transfer.max_tries, transfer.max_distance or "
            f"transfer.move_probability, or lower transfer.population"
        )
    return children
