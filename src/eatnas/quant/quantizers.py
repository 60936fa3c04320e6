"""Weight and activation fake-quantizers built on torch's fake-quant ops (straight-through gradients).

One quantizer serves both weight schemes; only the grouping differs:

* ``per_channel``: one group per output channel (dim 0 of a conv/linear weight);
* ``bucket256``: JASQ's scheme: the flattened tensor is cut into buckets of 256 values, the last
  bucket padded with its final value.

Per group: ``lo = min``, ``delta = max - min`` (``delta = 1`` when ``delta < 1e-10``), scale
``s = delta / (2^b - 1)`` and code ``q = clamp(round((x - lo) / s), 0, 2^b - 1)``; the dequantized value is
``lo + s * q``. This is JASQ's ``(x - lo) / delta`` rounding to ``2^b - 1`` steps with deterministic
rounding; it is computed as ``torch.fake_quantize_per_channel_affine(x - lo, s, 0, 0, 2^b - 1) + lo``
so gradients are straight-through. ``bits == 32`` means float (identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from eatnas.quant.errors import QuantError

FLOAT_BITS = 32
SUPPORTED_BITS = (2, 3, 4, 5, 6, 8, 16, 32)  # the config schema's quant.bits choices; 32 = float
SCHEMES = ("per_channel", "bucket256")
BUCKET = 256
_MIN_DELTA = 1e-10


def check_bits(bits: int, allowed: tuple[int, ...] | None = None, where: str = "bits") -> int:
    """Validate one bit-width (in :data:`SUPPORTED_BITS`, and in ``allowed`` when given)."""
    choices = list(allowed) if allowed is not None else list(SUPPORTED_BITS)
    if isinstance(bits, bool) or not isinstance(bits, int):
        raise QuantError(f"{where}={bits!r} is not an integer bit-width; use one of {choices}")
    if allowed is not None and bits not in allowed:
        raise QuantError(f"{where}={bits} is not in the configured bit set {choices}; use one of them")
    if bits not in SUPPORTED_BITS:
        raise QuantError(f"{where}={bits} is not supported; use one of {list(SUPPORTED_BITS)} (32 = float)")
    return bits


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise QuantError(f"quant scheme {scheme!r} is unknown; choose one of {list(SCHEMES)}")
    return scheme


def grouped(w: torch.Tensor, scheme: str) -> torch.Tensor:
    """The ``[groups, group_size]`` view quantized group-wise (bucket256 pads with the last value)."""
    check_scheme(scheme)
    if scheme == "per_channel":
        return w.reshape(w.shape[0], -1) if w.dim() > 0 else w.reshape(1, 1)
    flat = w.reshape(-1)
    pad = (-flat.numel()) % BUCKET
    if pad:
        flat = torch.cat([flat, flat[-1:].expand(pad)])
    return flat.reshape(-1, BUCKET)


def ungrouped(g: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`grouped` (drops the bucket padding)."""
    return g.reshape(-1)[: like.numel()].reshape(like.shape)


def num_groups(shape: tuple[int, ...] | torch.Size, scheme: str) -> int:
    """Number of (scale, offset) pairs a tensor of ``shape`` carries under ``scheme``."""
    check_scheme(scheme)
    numel = 1
    for d in shape:
        numel *= int(d)
    if scheme == "per_channel":
        return int(shape[0]) if len(shape) else 1
    return -(-numel // BUCKET)


def group_params(g: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-group ``(lo, scale)`` from min/max (detached: statistics, not trained)."""
    g = g.detach()
    lo = g.min(dim=1).values
    delta = g.max(dim=1).values - lo
    delta = torch.where(delta < _MIN_DELTA, torch.ones_like(delta), delta)
    scale = delta / float(2**bits - 1)
    return lo.float(), scale.float()


def fake_quant(w: torch.Tensor, bits: int, scheme: str = "per_channel") -> torch.Tensor:
    """Quantize then dequantize ``w`` at ``bits`` (STE gradient); ``bits == 32`` returns ``w``."""
    check_bits(bits)
    if bits == FLOAT_BITS:
        return w
    g = grouped(w, scheme)
    lo, scale = group_params(g, bits)
    zp = torch.zeros(g.shape[0], dtype=torch.int32, device=g.device)
    shifted = g - lo[:, None].to(g.dtype)
    q = torch.fake_quantize_per_channel_affine(shifted.float(), scale, zp, 0, 0, 2**bits - 1)
    return ungrouped(q.to(g.dtype) + lo[:, None].to(g.dtype), w)


@dataclass(frozen=True)
class QuantizedTensor:
    """Integer codes of a tensor plus the per-group ``lo`` (offset) and ``scale``; ``dequantize()`` inverts."""

    codes: torch.Tensor  # int64 codes in [0, 2^bits - 1], grouped shape [groups, group_size]
    lo: torch.Tensor  # float32 [groups]
    scale: torch.Tensor  # float32 [groups]
    bits: int
    scheme: str
    shape: tuple[int, ...]

    def dequantize(self) -> torch.Tensor:
        g = self.lo[:, None] + self.scale[:, None] * self.codes.float()
        return g.reshape(-1)[: _numel(self.shape)].reshape(self.shape)


def quantize_tensor(w: torch.Tensor, bits: int, scheme: str = "per_channel") -> QuantizedTensor:
    """Integer codes of ``w``; ``quantize_tensor(w).dequantize() == fake_quant(w)`` bit-exactly."""
    check_bits(bits)
    if bits == FLOAT_BITS:
        raise QuantError("bits=32 means float: there are no integer codes; keep the tensor as it is")
    g = grouped(w.detach().float(), scheme)
    lo, scale = group_params(g, bits)
    zp = torch.zeros(g.shape[0], dtype=torch.int32, device=g.device)
    shifted = g - lo[:, None]
    deq = torch.fake_quantize_per_channel_affine(shifted, scale, zp, 0, 0, 2**bits - 1)
    codes = torch.round(deq / scale[:, None]).clamp_(0, 2**bits - 1).long()
    return QuantizedTensor(codes.cpu(), lo.cpu(), scale.cpu(), bits, scheme, tuple(w.shape))


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def fake_quant_activation(x: torch.Tensor, bits: int, lo: float, hi: float) -> torch.Tensor:
    """Per-tensor activation fake-quant on a calibrated range ``[lo, hi]`` (range widened to contain 0)."""
    check_bits(bits)
    if bits == FLOAT_BITS:
        return x
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    qmax = 2**bits - 1
    scale = max((hi - lo) / qmax, 1e-12)
    zero_point = int(min(max(round(-lo / scale), 0), qmax))
    return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, 0, qmax)
