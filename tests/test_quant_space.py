"""QuantSpace (architecture + bit genes) and PolicySpace (bits of a fixed network)."""

import random

import pytest
import torch
from torch import nn

from eatnas.errors import ArchStringError
from eatnas.quant.apply import quantize_model
from eatnas.quant.size import model_size
from eatnas.space.base import BuildSpec, get_space
from eatnas.space.quant import PolicySpace, QuantArch, QuantSpace



UNITS = ("stem", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "blocks.6", "head", "classifier")


@pytest.fixture(scope="module")
def qspace():
    return QuantSpace("block", bits=(2, 4, 8, 16, 32), granularity="block")


def test_block_units_are_fixed(qspace):
    assert qspace.unit_names == UNITS
    assert len(qspace.vocab_sizes()) == 35 + 10
    assert qspace.position_names()[35] == "bits.stem"
    assert get_space("quant", base="block").unit_names == UNITS


def test_string_and_token_roundtrip(qspace):
    rng = random.Random(0)
    for _ in range(5):
        a = qspace.sample(rng)
        text = qspace.encode(a)
        assert text.count("@b:") == 1
        assert qspace.decode(text) == a
        assert qspace.from_tokens(qspace.tokens(a)) == a


def test_decode_errors_name_the_position(qspace):
    base = qspace.base.encode(qspace.base.preset("tiny"))
    good = base + "@b:" + ",".join(["8"] * 10)
    assert qspace.decode(good).bits == (8,) * 10
    bad = base + "@b:8,8,7," + ",".join(["8"] * 7)
    with pytest.raises(ArchStringError, match=rf"position {len(base) + 7}: bit-width 2 is '7'"):
        qspace.decode(bad)
    with pytest.raises(ArchStringError, match="found 9 bit-widths"):
        qspace.decode(base + "@b:" + ",".join(["8"] * 9))
    with pytest.raises(ArchStringError, match="missing '@b:'"):
        qspace.decode(base)
    with pytest.raises(ArchStringError, match="at position 8: found 1 blocks"):
        qspace.decode("nonsense@b:" + ",".join(["8"] * 10))


def test_mutations_touch_either_genes(qspace):
    a = qspace.with_bits(qspace.base.preset("tiny"), 8)
    actions = qspace.actions(a)
    arch_moves = [x for x in actions if x.position < 35]
    bit_moves = [x for x in actions if x.position >= 35]
    assert len(bit_moves) == 10 * 4 and arch_moves
    child = qspace.apply(a, bit_moves[0])
    assert child.base == a.base and child.bits != a.bits
    child = qspace.apply(a, arch_moves[0])
    assert child.base != a.base and child.bits == a.bits


def test_policy_and_size_of_built_network(qspace):
    a = QuantArch(qspace.base.preset("tiny"), (32, 8, 8, 8, 8, 4, 4, 4, 2, 16))
    spec = BuildSpec(10, 8, 1)
    model = qspace.build(a, spec)
    pol = qspace.policy(a, model)
    assert pol["stem.conv"] == 32 and pol["head.conv"] == 2 and pol["classifier"] == 16
    assert pol["blocks.4.layers.0.dw.conv"] == 4
    assert qspace.size_mb(a, spec) == pytest.approx(model_size(model, pol).mb)
    assert qspace.cost(a, spec).params == sum(p.numel() for p in model.parameters())


def test_keep_float_overrides_genes():
    s = QuantSpace("block", bits=(4, 8), keep_float=("stem", "classifier"), unit_names=UNITS)
    a = s.with_bits(s.base.preset("tiny"), 4)
    pol = s.policy(a, s.build(a, BuildSpec(10, 8, 1)))
    assert pol["stem.conv"] == 32 and pol["classifier"] == 32 and pol["head.conv"] == 4


def _fixed():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(16, 3))


def test_policy_space():
    m = _fixed()
    s = PolicySpace(m, bits=(2, 4, 8, 32))
    assert s.unit_names == ("0", "2", "4")
    a = (2, 8, 32)
    assert s.decode(s.encode(a)) == a and s.encode(a) == "b:2,8,32"
    assert s.uniform(4) == (4, 4, 4)
    q = s.build(a)
    ref = quantize_model(m, {"0": 2, "2": 8, "4": 32})
    assert all(torch.equal(x, y) for x, y in zip(q.state_dict().values(), ref.state_dict().values()))
    assert s.size_mb(a) == pytest.approx(model_size(m, s.policy(a)).mb)
    with pytest.raises(ArchStringError, match="position 4: bit-width 1 is '16'"):
        s.decode("b:2,16,32")
    with pytest.raises(ValueError, match="bits=16"):
        s.tokens((2, 16, 32))
