"""Model size under a bit policy, in MB (1 MB = 1e6 bytes).

``packed`` (default, depends on shapes only)::

    bytes = sum_{quantized weights W} bits(W) * numel(W) / 8          # bit-packed integer codes
          + sum_{quantized weights W} groups(W) * 8                   # float32 scale + float32 offset per group
          + sum_{every other parameter P} 4 * numel(P)                # biases, BN affine, float (32-bit) layers

``groups`` is the number of output channels (``per_channel``) or ``ceil(numel / 256)`` (``bucket256``).
BN running statistics are buffers, not parameters: they fold into the preceding conv at inference
and are not counted (as in JASQ, which sums parameters).

``huffman`` (JASQ, papers.md §2.3) replaces ``bits * numel / 8`` by the Huffman-coded length of that
tensor's integer codes: ``mean code length (bits) * numel / 8`` (a tensor with one distinct code costs
1 bit per value); the code tables are not counted, as in JASQ.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
from torch import nn

from eatnas.quant.errors import QuantError
from eatnas.quant.policy import validate_policy
from eatnas.quant.quantizers import FLOAT_BITS, check_scheme, num_groups, quantize_tensor

SIZE_FORMATS = ("packed", "huffman")
GROUP_OVERHEAD_BYTES = 8  # one float32 scale + one float32 offset per group
FLOAT_BYTES = 4


@dataclass(frozen=True)
class SizeReport:
    """Size split into its terms (bytes) and the total in MB."""

    weight_bytes: float  # integer codes of quantized weights
    overhead_bytes: float  # scales and offsets
    float_bytes: float  # all other parameters in float32
    fmt: str

    @property
    def total_bytes(self) -> float:
        return self.weight_bytes + self.overhead_bytes + self.float_bytes

    @property
    def mb(self) -> float:
        return self.total_bytes / 1e6

    def as_dict(self) -> dict:
        return {"size_mb": self.mb, "weight_bytes": self.weight_bytes, "overhead_bytes": self.overhead_bytes,
                "float_bytes": self.float_bytes, "format": self.fmt}


def huffman_mean_length(counts: np.ndarray) -> float:
    """Mean Huffman code length (bits per symbol) for symbol ``counts`` (zeros ignored; 1 symbol -> 1 bit)."""
    counts = np.asarray(counts, dtype=np.int64)
    counts = counts[counts > 0]
    if counts.size == 0:
        return 0.0
    if counts.size == 1:
        return 1.0
    # every merge adds one bit to all symbols below it: total length = sum of merged weights
    heap = [int(c) for c in counts]
    heapq.heapify(heap)
    total = 0
    while len(heap) > 1:
        a, b = heapq.heappop(heap), heapq.heappop(heap)
        total += a + b
        heapq.heappush(heap, a + b)
    return total / float(counts.sum())


def float_size_mb(model: nn.Module) -> float:
    """Size of the float32 model (every parameter at 4 bytes), MB."""
    return sum(p.numel() for p in model.parameters()) * FLOAT_BYTES / 1e6


def model_size(model: nn.Module, policy: Mapping[str, int], scheme: str = "per_channel",
               fmt: str = "packed") -> SizeReport:
    """Size of ``model`` quantized with ``policy`` (see the module docstring for the formulas)."""
    check_scheme(scheme)
    if fmt not in SIZE_FORMATS:
        raise QuantError(f"quant.size_format {fmt!r} is unknown; choose one of {list(SIZE_FORMATS)}")
    policy = validate_policy(model, policy)
    mods = dict(model.named_modules())
    quantized: dict[int, int] = {}  # id(weight) -> bits
    for name, bits in policy.items():
        if bits != FLOAT_BITS:
            quantized[id(mods[name].weight)] = bits
    weight_b = overhead_b = float_b = 0.0
    seen: set[int] = set()
    for p in model.parameters():  # parameters() de-duplicates shared tensors
        if id(p) in seen:
            continue
        seen.add(id(p))
        bits = quantized.get(id(p))
        if bits is None:
            float_b += FLOAT_BYTES * p.numel()
            continue
        overhead_b += GROUP_OVERHEAD_BYTES * num_groups(tuple(p.shape), scheme)
        if fmt == "packed":
            weight_b += bits * p.numel() / 8.0
        else:
            codes = quantize_tensor(p, bits, scheme).codes.reshape(-1)[: p.numel()]
            mean_len = huffman_mean_length(torch.bincount(codes, minlength=2**bits).numpy())
            weight_b += mean_len * p.numel() / 8.0
    return SizeReport(weight_b, overhead_b, float_b, fmt)


def check_target(target_mb: float | None, where: str = "quant.target_mb") -> float | None:
    """A size target must be a positive number (or ``None`` = derive it from the initial population)."""
    if target_mb is None:
        return None
    if isinstance(target_mb, bool) or not isinstance(target_mb, (int, float)) or not target_mb > 0:
        raise QuantError(f"{where}={target_mb!r} must be a size in MB > 0 (or null to use the initial population's mean)")
    return float(target_mb)
