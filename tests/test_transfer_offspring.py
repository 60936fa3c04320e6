"""Offspring generator and adjacency: distinct, valid, bounded, reproducible; clear errors."""

from __future__ import annotations

import pytest
from test_transfer_fake_space import FakeSpace

from eatnas.errors import EatnasError
from eatnas.transfer.adjacency import adjacent_values, is_ordered
from eatnas.transfer.offspring import generate_offspring

BASIC = FakeSpace().decode("01121-11111-10111")


def _gen(seed: int = 0, **kw):
    opts = dict(population=12, move_probability=0.3, max_distance=3, max_tries=2000, seed=seed)
    opts.update(kw)
    return generate_offspring(FakeSpace(), BASIC, **opts)


def test_adjacency_orders_kernel_layers_width_and_resamples_op_skip() -> None:
    space = FakeSpace()
    names = space.position_names()
    kernel, layers, width, op, skip = (names.index(f"b0.{f}") for f in ("kernel", "layers", "width", "op", "skip"))
    assert is_ordered(space, kernel) and is_ordered(space, width) and not is_ordered(space, op)
    assert adjacent_values(space, kernel, 1) == [0, 2]      # 3 -> 1 or 5
    assert adjacent_values(space, width, 0) == [1]          # 0.5 -> 1.0 only (end of range)
    assert adjacent_values(space, layers, 3) == [2]
    assert adjacent_values(space, op, 0) == [1, 2]          # categorical: any other op
    assert adjacent_values(space, skip, 1) == [0]           # flipped


def test_space_can_define_its_own_adjacency() -> None:
    class Custom(FakeSpace):
        def adjacent_values(self, position: int, value: int) -> list[int]:
            return [value] if value == 0 else [0, value]

    assert adjacent_values(Custom(), 1, 2) == [0]
    assert adjacent_values(Custom(), 1, 0) == []


def test_offspring_distinct_valid_bounded_and_basic_first() -> None:
    space = FakeSpace()
    kids = _gen()
    assert len(kids) == 12
    assert kids[0].arch == BASIC and kids[0].distance == 0
    assert len({space.canonical_key(k.arch) for k in kids}) == 12
    base = space.tokens(BASIC)
    for kid in kids[1:]:
        space.validate(kid.arch)
        assert 1 <= kid.distance <= 3
        assert kid.distance == space.distance(BASIC, kid.arch)
        for pos, (a, b) in enumerate(zip(space.tokens(kid.arch), base)):
            if a != b:   # every move is to an adjacent value of the basic token
                assert a in adjacent_values(space, pos, b)
        assert len(kid.moved) == kid.distance


def test_offspring_reproducible_under_seed_and_seed_dependent() -> None:
    a = [k.arch for k in _gen(seed=3)]
    assert a == [k.arch for k in _gen(seed=3)]
    assert a != [k.arch for k in _gen(seed=4)]


def test_offspring_respects_distance_one() -> None:
    kids = _gen(max_distance=1, move_probability=0.1)
    assert all(k.distance <= 1 for k in kids)


def test_offspring_too_many_children_names_the_setting() -> None:
    # distance 1 around BASIC admits only a handful of neighbours, far fewer than 200
    with pytest.raises(EatnasError, match=r"transfer\.population=200.*transfer\.max_tries"):
        _gen(population=200, max_distance=1, max_tries=300)


def test_offspring_rejects_zero_move_probability() -> None:
    with pytest.raises(EatnasError, match="move_probability"):
        _gen(move_probability=0.0)
    assert [k.arch for k in _gen(population=1, move_probability=0.0)] == [BASIC]
