"""NB201 space: official strings, token order, canonical keys, actions, errors."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from eatnas.errors import ArchStringError
from eatnas.space.base import get_space

TABLE = "/work/shared/benchmarks/nasbench201/cifar10.csv"


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_tokens_follow_table_edge_order(space):
    arch = space.decode("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert space.tokens(arch) == (4, 2, 1, 2, 1, 1)
    assert space.vocab_sizes() == (5,) * 6 and space.test_resolutions == (32,)


@pytest.mark.skipif(not __import__("os").path.exists(TABLE), reason="NB201 table not present")
def test_encode_matches_every_official_string(space):
    df = pd.read_csv(TABLE, dtype={"ops": str}, usecols=["arch", "ops"])
    for arch, ops in zip(df["arch"], df["ops"]):
        toks = tuple(int(c) for c in ops)
        assert space.encode(toks) == arch
        assert space.decode(arch) == toks


def test_canonical_key_kills_dead_edges(space):
    # node 1 unreachable (0->1 none): 1->2 and 1->3 are dead
    assert space.canonical_key((0, 3, 3, 1, 3, 3)) == space.canonical_key((0, 3, 0, 1, 0, 3))
    # node 2 does not reach the output (2->3 none): 0->2 and 1->2 are dead
    assert space.canonical_key((3, 3, 3, 1, 3, 0)) == space.canonical_key((3, 0, 0, 1, 3, 0))
    # every all-dead cell shares one key
    dead = {space.canonical_key(t) for t in [(0, 0, 0, 0, 0, 0), (3, 3, 3, 0, 0, 0), (0, 0, 4, 0, 2, 0)]}
    assert dead == {"000000"}
    # live edges are kept: different live cells have different keys
    assert space.canonical_key((3, 3, 3, 1, 3, 3)) != space.canonical_key((3, 3, 3, 1, 3, 2))


def test_canonical_key_groups_are_consistent(space):
    keys = {space.canonical_key(t) for t in itertools.product(range(5), repeat=6)}
    assert 1 < len(keys) < 5 ** 6
    for key in keys:  # a canonical cell is its own canonical form
        assert space.canonical_key(tuple(int(c) for c in key)) == key


def test_actions_change_one_edge(space):
    arch = (3, 3, 3, 1, 3, 2)
    acts = space.actions(arch)
    assert len(acts) == 24 and len(set(acts)) == 24
    for a in acts:
        assert space.distance(arch, space.apply(arch, a)) == 1


@pytest.mark.parametrize("text", ["", "|none~0|+|none~0|none~1|", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                  "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
                                  "none~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_bad_strings_raise(space, text):
    with pytest.raises(ArchStringError):
        space.decode(text)


def test_from_tokens_rejects_bad_tokens(space):
    with pytest.raises(ValueError):
        space.from_tokens((0, 1, 2))
    with pytest.raises(ValueError):
        space.from_tokens((0, 1, 2, 3, 4, 5))
