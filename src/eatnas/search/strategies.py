"""Mutation strategies: how a parent architecture is changed into a child.

``random``: one uniformly chosen action from ``space.actions(parent)``.
``rea``: the same random mutation; the engine runs it as aging evolution (removal = oldest).
``renas``: a learned mutation controller (:mod:`eatnas.search.controller`) trained online with REINFORCE.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from eatnas.errors import ConfigError
from eatnas.registry import Registry
from eatnas.space.base import Action, Arch, SearchSpace
from eatnas.utils.seed import derive_seed

IsNew = Callable[[Arch], bool]
STRATEGIES: Registry[type["MutationStrategy"]] = Registry("mutation strategy")


class MutationStrategy(ABC):
    """Chooses one action for a parent; may learn from ``feedback`` (reward = child - parent fitness)."""

    name: ClassVar[str]
    removal: ClassVar[str | None] = None  # a removal rule the strategy implies (None = configurable)

    def __init__(self, space: SearchSpace, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        self.space = space

    @abstractmethod
    def propose(self, parent: Arch, rng: random.Random, is_new: IsNew) -> Action:
        """One valid action for ``parent``; ``is_new(child)`` tells whether a child was never evaluated."""

    def feedback(self, parent: Arch, action: Action, reward: float) -> None:
        """Learn from the outcome of a mutation (default: nothing to learn)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any], source: str = "strategy state") -> None:
        """Restore learned state (default: stateless)."""


@STRATEGIES.register("random")
class RandomMutation(MutationStrategy):
    """Uniformly random single-token change."""

    name = "random"

    def propose(self, parent: Arch, rng: random.Random, is_new: IsNew) -> Action:
        actions = self.space.actions(parent)
        if not actions:
            raise ConfigError(f"space {self.space.name!r}: architecture {self.space.encode(parent)} has no valid mutation")
        return actions[rng.randrange(len(actions))]


@STRATEGIES.register("rea")
class AgingRandomMutation(RandomMutation):
    """Regularised evolution (Real et al.): random mutation; run it with ``removal: oldest`` (aging).

    The removal rule stays configurable (JASQ-style steady state = ``worst``); the NB201 benchmark
    preset uses P=10, S=3, oldest.
    """

    name = "rea"


CONTROLLER_DEFAULTS: dict[str, Any] = {
    "embedding": 32, "hidden": 64, "lr": 3.5e-4, "entropy": 1e-4, "baseline_decay": 0.9,
    "steps": 1, "reward_norm": "zscore", "adv_clip": 3.0, "prefer_unseen": True, "temperature": 1.0,
}


@STRATEGIES.register("renas")
class ReinforcedMutation(MutationStrategy):
    """RENAS: a BiLSTM controller reads the parent's tokens and picks (position, new value)."""

    name = "renas"

    def __init__(self, space: SearchSpace, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        from eatnas.search.controller import ControllerTrainer

        super().__init__(space, options, seed)
        opts = dict(CONTROLLER_DEFAULTS)
        unknown = sorted(set(options or {}) - set(opts))
        if unknown:
            raise ConfigError(f"unknown controller option {unknown[0]!r}; known: {', '.join(sorted(opts))}")
        opts.update(options or {})
        self.prefer_unseen = bool(opts.pop("prefer_unseen"))
        self.trainer = ControllerTrainer(space.vocab_sizes(), seed=derive_seed(seed, "controller"), **opts)
        self.np_rng = np.random.default_rng(derive_seed(seed, "controller-sampling"))
        self._masks: dict[tuple[Arch, Action], Any] = {}

    def _mask(self, parent: Arch, is_new: IsNew | None):
        from eatnas.search.controller import action_mask

        actions = self.space.actions(parent)
        if not actions:
            raise ConfigError(f"space {self.space.name!r}: architecture {self.space.encode(parent)} has no valid mutation")
        pairs = [(a.position, a.value) for a in actions]
        if self.prefer_unseen and is_new is not None:
            fresh = [(a.position, a.value) for a in actions if is_new(self.space.apply(parent, a))]
            pairs = fresh or pairs
        return action_mask(self.space.vocab_sizes(), pairs)

    def propose(self, parent: Arch, rng: random.Random, is_new: IsNew) -> Action:
        mask = self._mask(parent, is_new)
        pos, val = self.trainer.sample(self.space.tokens(parent), mask, self.np_rng)
        action = Action(pos, val)
        self._masks[(parent, action)] = mask  # the policy the action was drawn from, for its update
        return action

    def feedback(self, parent: Arch, action: Action, reward: float) -> None:
        mask = self._masks.pop((parent, action), None)
        if mask is None:
            mask = self._mask(parent, None)
        self.trainer.update(self.space.tokens(parent), mask, (action.position, action.value), reward)

    def state_dict(self) -> dict[str, Any]:
        return {"controller": self.trainer.state_dict(), "sampling_rng": self.np_rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any], source: str = "controller state") -> None:
        self.trainer.load_state_dict(dict(state.get("controller", state)), source)


def make_strategy(name: str, space: SearchSpace, options: Mapping[str, Any] | None = None,
                  seed: int = 0) -> MutationStrategy:
    """Instantiate a registered strategy; unknown names raise a one-line error listing the known ones."""
    cls = STRATEGIES.get(name)
    return cls(space, options if cls is ReinforcedMutation else None, seed)
