"""Quantizers: error vs bits, 16-bit ~ float, JASQ bucket reference, exact codes, STE, activation quant."""

import numpy as np
import pytest
import torch

from eatnas.errors import EatnasError
from eatnas.quant.quantizers import fake_quant, fake_quant_activation, num_groups, quantize_tensor



def _weight(seed=0, shape=(16, 8, 3, 3)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("scheme", ["per_channel", "bucket256"])
def test_error_shrinks_as_bits_grow(scheme):
    w = _weight()
    errors = [(fake_quant(w, b, scheme) - w).abs().mean().item() for b in (2, 3, 4, 5, 6, 8, 16)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 0.05  # 2 bits is really coarse


@pytest.mark.parametrize("scheme", ["per_channel", "bucket256"])
def test_16_bit_equals_float_within_1e3_relative(scheme):
    w = _weight(1)
    q = fake_quant(w, 16, scheme)
    assert (q - w).norm() / w.norm() < 1e-3
    assert ((q - w).abs().max() / w.abs().max()).item() < 1e-3
    assert torch.equal(fake_quant(w, 32, scheme), w)


def _jasq_reference(x: np.ndarray, bits: int) -> np.ndarray:
    """papers.md §2.3: buckets of 256 (last padded with its final value), min/max, deterministic rounding."""
    flat = x.reshape(-1).astype(np.float64)
    pad = (-flat.size) % 256
    padded = np.concatenate([flat, np.full(pad, flat[-1])]).reshape(-1, 256)
    lo = padded.min(1, keepdims=True)
    delta = padded.max(1, keepdims=True) - lo
    delta[delta < 1e-10] = 1.0
    levels = 2**bits - 1
    q = np.round((padded - lo) / delta * levels) / levels
    return (q * delta + lo).reshape(-1)[: flat.size].reshape(x.shape)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_bucket256_matches_jasq_reference(bits):
    w = _weight(2, (10, 7, 5, 5))  # 1750 values: 7 buckets, last one padded
    got = fake_quant(w, bits, "bucket256").numpy()
    want = _jasq_reference(w.numpy(), bits)
    step = (w.max() - w.min()).item() / (2**bits - 1)
    # identical up to float32 arithmetic (an exact .5 tie may round the other way: at most one step)
    assert np.mean(np.abs(got - want) < 1e-5) > 0.999
    assert np.abs(got - want).max() <= step * 1.0001
    assert num_groups(w.shape, "bucket256") == 7


@pytest.mark.parametrize("scheme", ["per_channel", "bucket256"])
@pytest.mark.parametrize("bits", [2, 3, 8, 16])
def test_integer_codes_dequantize_bit_exactly(scheme, bits):
    w = _weight(3)
    q = quantize_tensor(w, bits, scheme)
    assert q.codes.min() >= 0 and q.codes.max() <= 2**bits - 1
    assert torch.equal(q.dequantize(), fake_quant(w, bits, scheme))
    assert q.lo.shape[0] == num_groups(w.shape, scheme)


def test_constant_channel_is_exact():
    w = torch.zeros(4, 9)
    w[1] = 0.5
    assert torch.equal(fake_quant(w, 2), w)


def test_straight_through_gradient():
    w = _weight(4).requires_grad_(True)
    fake_quant(w, 4).mul(torch.arange(w.numel()).reshape(w.shape).float()).sum().backward()
    assert torch.equal(w.grad, torch.arange(w.numel()).reshape(w.shape).float())


def test_activation_fake_quant():
    x = torch.linspace(-1, 3, 1000)
    assert (fake_quant_activation(x, 16, -1, 3) - x).abs().max() < 1e-4
    assert len(torch.unique(fake_quant_activation(x, 2, -1, 3))) <= 4
    assert torch.equal(fake_quant_activation(x, 32, -1, 3), x)


@pytest.mark.parametrize("bits", [1, 7, 12, 64, 4.0, True])
def test_bad_bits_raise(bits):
    with pytest.raises(EatnasError, match="bit"):
        fake_quant(_weight(), bits)


def test_bits_outside_configured_set_raise():
    from eatnas.quant.quantizers import check_bits

    with pytest.raises(EatnasError, match=r"not in the configured bit set \[4, 8\]"):
        check_bits(2, (4, 8), where="quant.bits")


def test_unknown_scheme_raises():
    with pytest.raises(EatnasError, match="scheme 'int8'"):
        fake_quant(_weight(), 8, "int8")
