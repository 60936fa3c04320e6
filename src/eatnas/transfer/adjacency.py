"""Per-space notion of an *adjacent* token value, used by the offspring generator and scaling.

A space may define ``adjacent_values(position, value) -> Sequence[int]`` itself. Otherwise the
kind of a position is inferred from the last dotted part of its ``position_names()`` entry:
names in :data:`ORDERED_NAMES` (``kernel``, ``layers``, ``width``, ...) are *ordered* and move
one step up or down (kernel 5 -> 3 or 7, width 1.0 -> 0.5 or 1.5, layers +-1); every other
position is *categorical* and is resampled to any other value (``op`` resampled, ``skip`` flipped).
"""

from __future__ import annotations

from eatnas.space.base import SearchSpace

ORDERED_NAMES: frozenset[str] = frozenset(
    {"kernel", "layers", "depth", "width", "expansion", "expand", "channels", "bits", "resolution"}
)
WIDTH_NAMES: frozenset[str] = frozenset({"width", "channels"})
DEPTH_NAMES: frozenset[str] = frozenset({"layers", "depth"})


def field_name(space: SearchSpace, position: int) -> str:
    """The last dotted part of a position's name (``b3.kernel`` -> ``kernel``)."""
    return space.position_names()[position].rsplit(".", 1)[-1].lower()


def is_ordered(space: SearchSpace, position: int) -> bool:
    """Whether ``position`` takes ordered values (moves +-1) rather than categorical ones."""
    custom = getattr(space, "ordered_positions", None)
    if callable(custom):
        return position in set(custom())
    return field_name(space, position) in ORDERED_NAMES


def adjacent_values(space: SearchSpace, position: int, value: int) -> list[int]:
    """Token values one move away from ``value`` at ``position`` (never ``value`` itself)."""
    custom = getattr(space, "adjacent_values", None)
    if callable(custom):
        return [int(v) for v in custom(position, value) if int(v) != value]
    n = space.vocab_sizes()[position]
    if is_ordered(space, position):
        return [v for v in (value - 1, value + 1) if 0 <= v < n]
    return [v for v in range(n) if v != value]


def positions_named(space: SearchSpace, names: frozenset[str]) -> list[int]:
    """Token positions whose field name is one of ``names`` (e.g. every block's ``width``)."""
    return [i for i in range(len(space.vocab_sizes())) if field_name(space, i) in names]
