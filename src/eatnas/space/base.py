"""The search-space protocol every space implements, and the space registry.

Every architecture is an immutable value owned by its space. Besides its own structure, each
space exposes a *token view*: a tuple of small non-negative ints, one per searchable position,
``vocab_sizes()[i]`` choices at position ``i``. Mutation, the RENAS controller, the EAT-NAS
offspring generator and quantization genes all work on tokens; only the space knows what a
token means, how to print it (the canonical string) and how to build it.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Hashable, Mapping, Sequence

import numpy as np

from eatnas.errors import ArchStringError
from eatnas.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

Arch = Hashable  # an immutable, hashable architecture value of a given space


@dataclass(frozen=True)
class Action:
    """One slight modification: set token ``position`` to ``value`` (different from the current one)."""

    position: int
    value: int


@dataclass(frozen=True)
class Cost:
    """Analytic cost of a built network: parameter count and multiply-accumulates for one image."""

    params: int
    macs: int


@dataclass(frozen=True)
class BuildSpec:
    """Build-time parameters that are not part of the architecture."""

    num_classes: int = 10
    input_size: int = 32
    in_channels: int = 3


class SearchSpace(ABC):
    """Base class of all search spaces; subclasses register with ``@SPACES.register(name)``."""

    name: ClassVar[str]
    presets: ClassVar[dict[str, str]] = {}

    # --- representation --------------------------------------------------------------------
    @abstractmethod
    def vocab_sizes(self) -> tuple[int, ...]:
        """Number of choices at each token position."""

    @abstractmethod
    def position_names(self) -> tuple[str, ...]:
        """A readable name per token position (e.g. ``b3.kernel``)."""

    def action_name(self, position: int) -> str:
        """A readable name for the position an :class:`Action` changes (a token position by default)."""
        return self.position_names()[position]

    @abstractmethod
    def tokens(self, arch: Arch) -> tuple[int, ...]:
        """The token view of an architecture."""

    @abstractmethod
    def from_tokens(self, tokens: Sequence[int]) -> Arch:
        """Inverse of :meth:`tokens`; raises ``ValueError`` for an invalid token tuple."""

    @abstractmethod
    def encode(self, arch: Arch) -> str:
        """The canonical string of ``arch`` (documented grammar, ``decode(encode(a)) == a``)."""

    @abstractmethod
    def decode(self, text: str) -> Arch:
        """Parse a string; raise :class:`ArchStringError` with the position and reason."""

    def canonical_key(self, arch: Arch) -> str:
        """A key shared by all equivalent architectures (for de-duplication); default: the string."""
        return self.encode(arch)

    def validate(self, arch: Arch) -> None:
        """Raise ``ValueError`` when ``arch`` is not a valid architecture of this space."""
        self.from_tokens(self.tokens(arch))

    def is_valid_tokens(self, tokens: Sequence[int]) -> bool:
        try:
            self.from_tokens(tokens)
        except (ValueError, ArchStringError):
            return False
        return True

    # --- sampling and mutation -------------------------------------------------------------
    def sample(self, rng: random.Random) -> Arch:
        """A uniformly random valid architecture (seeded through ``rng``)."""
        sizes = self.vocab_sizes()
        for _ in range(10_000):
            toks = [rng.randrange(n) for n in sizes]
            if self.is_valid_tokens(toks):
                return self.from_tokens(toks)
        raise RuntimeError(f"{self.name}: could not sample a valid architecture in 10000 tries")

    def actions(self, arch: Arch) -> list[Action]:
        """Every single-token change that yields a valid, different architecture."""
        toks = list(self.tokens(arch))
        out = []
        for pos, n in enumerate(self.vocab_sizes()):
            old = toks[pos]
            for v in range(n):
                if v == old:
                    continue
                toks[pos] = v
                if self.is_valid_tokens(toks):
                    out.append(Action(pos, v))
            toks[pos] = old
        return out

    def apply(self, arch: Arch, action: Action) -> Arch:
        toks = list(self.tokens(arch))
        if toks[action.position] == action.value:
            raise ValueError(f"action {action} does not change the architecture")
        toks[action.position] = action.value
        return self.from_tokens(toks)

    def distance(self, a: Arch, b: Arch) -> int:
        """Number of token positions in which two architectures differ."""
        return sum(x != y for x, y in zip(self.tokens(a), self.tokens(b)))

    def features(self, arch: Arch) -> np.ndarray:
        """One-hot feature vector (concatenated per position) for learned controllers/predictors."""
        sizes = self.vocab_sizes()
        out = np.zeros(sum(sizes), dtype=np.float32)
        offset = 0
        for tok, n in zip(self.tokens(arch), sizes):
            out[offset + tok] = 1.0
            offset += n
        return out

    # --- building and cost -----------------------------------------------------------------
    @abstractmethod
    def build(self, arch: Arch, spec: BuildSpec) -> "nn.Module":
        """Instantiate the network for ``spec`` (classes, resolution, input channels)."""

    @abstractmethod
    def cost(self, arch: Arch, spec: BuildSpec) -> Cost:
        """Parameters and MACs computed analytically (no instantiation); equal to the built module's."""

    def preset(self, name: str) -> Arch:
        if name not in self.presets:
            raise ArchStringError(f"unknown preset {name!r} for space {self.name!r}; known: {sorted(self.presets)}")
        return self.decode(self.presets[name])

    def describe(self) -> dict[str, Any]:
        return {"space": self.name, "positions": len(self.vocab_sizes())}


SPACES: Registry[type[SearchSpace]] = Registry("search space")


def get_space(name: str, **options: Any) -> SearchSpace:
    """Instantiate a registered space; importing :mod:`eatnas.space` registers the built-in ones."""
    import eatnas.space  # noqa: F401  (registers built-in spaces)

    return SPACES.get(name)(**options)


def space_from_section(section: Mapping[str, Any] | None) -> tuple[SearchSpace, dict[str, Any]]:
    """The space a config's ``space`` section names, with the options its constructor accepts.

    The section holds the options of every space (the schema fills the block space's defaults),
    so each space receives only its own. Returns the space and the options it was given.
    """
    import inspect

    import eatnas.space  # noqa: F401  (registers built-in spaces)

    options = dict(section or {})
    name = options.pop("name", "block")
    params = inspect.signature(SPACES.get(name).__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        options = {k: v for k, v in options.items() if k in params}
    return get_space(name, **options), options
