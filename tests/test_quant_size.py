"""Size accounting: packed formula, Huffman lengths, float size, targets."""

import math

import pytest
import torch
from torch import nn

from eatnas.errors import EatnasError
from eatnas.quant.policy import uniform_policy
from eatnas.quant.size import check_target, float_size_mb, huffman_mean_length, model_size



def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 4))


def test_uniform_8_bit_packed_size_formula():
    m = _net()
    size = model_size(m, uniform_policy(m, 8), "per_channel", "packed")
    conv_w, lin_w = 8 * 3 * 3 * 3, 4 * 8 * 36
    quantized = conv_w + lin_w
    others = 8 + 8 + 4  # BN weight + bias, linear bias (float32)
    groups = 8 + 4  # one (scale, offset) float32 pair per output channel
    params = sum(p.numel() for p in m.parameters())
    assert params == quantized + others
    # documented: bits * numel / 8 + 8 bytes per group + 4 bytes per other parameter, in 1e6 bytes
    expected = (8 * quantized / 8 + 8 * groups + 4 * others) / 1e6
    assert size.mb == pytest.approx(expected, abs=1e-12)
    assert size.mb == pytest.approx(quantized / 1e6 + (8 * groups + 4 * others) / 1e6, abs=1e-12)
    assert float_size_mb(m) == pytest.approx(4 * params / 1e6)


def test_bucket_groups_and_float_layers():
    m = _net()
    policy = uniform_policy(m, 4, keep_float=["4"])  # the linear layer stays float
    size = model_size(m, policy, "bucket256", "packed")
    conv_w = 216
    expected = (4 * conv_w / 8 + 8 * math.ceil(conv_w / 256) + 4 * (16 + 4 * 8 * 36 + 4)) / 1e6
    assert size.mb == pytest.approx(expected, abs=1e-12)


def test_bn_running_stats_not_counted():
    m = _net()
    before = model_size(m, uniform_policy(m, 8)).mb
    m[1].running_mean.fill_(3.0)
    assert model_size(m, uniform_policy(m, 8)).mb == before


def test_huffman_mean_length():
    assert huffman_mean_length([1, 1, 2, 4]) == pytest.approx((3 + 3 + 2 * 2 + 4 * 1) / 8)
    assert huffman_mean_length([5]) == 1.0
    assert huffman_mean_length([3, 3, 0, 0]) == 1.0


def test_huffman_size_below_packed_for_peaked_weights():
    m = _net()
    pol = uniform_policy(m, 8)
    packed = model_size(m, pol, "bucket256", "packed")
    huff = model_size(m, pol, "bucket256", "huffman")
    assert huff.weight_bytes < packed.weight_bytes  # gaussian weights: codes are not uniform
    assert huff.overhead_bytes == packed.overhead_bytes and huff.float_bytes == packed.float_bytes


@pytest.mark.parametrize("target", [0, -1.0, "1"])
def test_bad_target_raises(target):
    with pytest.raises(EatnasError, match="target_mb"):
        check_target(target)


def test_bad_size_format_raises():
    m = _net()
    with pytest.raises(EatnasError, match="size_format 'zip'"):
        model_size(m, uniform_policy(m, 8), fmt="zip")
