"""The eight RENAS (NASNet-style) cell operations and the cell input preprocessing, with analytic costs.

All operations map F channels to F channels (the cell preprocessing brings both inputs to F
first), so pools and identity never change the channel count. ``stride`` is 1, or 2 for ops
applied to a cell input inside a reduction cell; with the paddings below every stride-2 op turns
an ``H`` map into ``ceil(H / 2)``.

Cost convention (shared with :mod:`eatnas.models.cell_net`): params = every trainable tensor
(conv weights, BN affine weight and bias, linear weight and bias; convs are bias-free);
MACs = convolutions and linear layers only, per image.

Submodules are named by their role (``dw1``, ``pw1``, ``conv``, ``conv1x7`` ...), not numbered, so that
weight inheritance (which matches state-dict keys) re-initialises an operation that a mutation
replaced instead of copying, say, a depthwise kernel into a dense convolution; a kernel change of
the same operation (sep3 -> sep5) keeps its keys and is centre-cropped or padded.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from eatnas.errors import EatnasError
from eatnas.models.pointwise import StridedPointwiseConv2d

OP_NAMES: tuple[str, ...] = ("sep3", "sep5", "sep7", "avg3", "max3", "conv3", "conv1x7", "id")
NUM_OPS = len(OP_NAMES)
SEP_KERNELS = {0: 3, 1: 5, 2: 7}


def out_size(h: int, stride: int) -> int:
    """Spatial size after a stride-``stride`` op with 'same' padding: ``ceil(h / stride)``."""
    return (h - 1) // stride + 1


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c)


class SepConvStack(nn.Sequential):
    """NASNet separable conv: (ReLU - depthwise kxk - pointwise 1x1 - BN) twice; stride in the first."""

    def __init__(self, c: int, kernel: int, stride: int) -> None:
        pad = kernel // 2
        super().__init__(OrderedDict([
            ("relu1", nn.ReLU(inplace=False)),
            ("dw1", nn.Conv2d(c, c, kernel, stride=stride, padding=pad, groups=c, bias=False)),
            ("pw1", nn.Conv2d(c, c, 1, bias=False)),
            ("bn1", _bn(c)),
            ("relu2", nn.ReLU(inplace=False)),
            ("dw2", nn.Conv2d(c, c, kernel, stride=1, padding=pad, groups=c, bias=False)),
            ("pw2", nn.Conv2d(c, c, 1, bias=False)),
            ("bn2", _bn(c)),
        ]))


class ReLUConvBN(nn.Sequential):
    """ReLU - kxk conv (no bias) - BN; used for op 5 (conv3) and the 1x1 input squeeze."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(OrderedDict([
            ("relu", nn.ReLU(inplace=False)),
            ("conv", nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)),
            ("bn", _bn(c_out)),
        ]))


class Conv1x7x7x1(nn.Sequential):
    """Op 6: ReLU - conv 1x7 (stride) - BN - ReLU - conv 7x1 - BN."""

    def __init__(self, c: int, stride: int) -> None:
        super().__init__(OrderedDict([
            ("relu1", nn.ReLU(inplace=False)),
            ("conv1x7", nn.Conv2d(c, c, (1, 7), stride=stride, padding=(0, 3), bias=False)),
            ("bn1", _bn(c)),
            ("relu2", nn.ReLU(inplace=False)),
            ("conv7x1", nn.Conv2d(c, c, (7, 1), stride=1, padding=(3, 0), bias=False)),
            ("bn2", _bn(c)),
        ]))


class FactorizedReduce(nn.Module):
    """ReLU, then two stride-2 1x1 convs (the second on the input shifted by one pixel), concat, BN.

    Output channels split as ``c_out // 2`` and ``c_out - c_out // 2`` (equal for even ``c_out``).
    Output size ``ceil(H / 2)``: the shifted path pads one zero row/column at the bottom/right.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = StridedPointwiseConv2d(c_in, c_out // 2, 2)  # = nn.Conv2d(..., 1, stride=2), see its module
        self.conv_2 = StridedPointwiseConv2d(c_in, c_out - c_out // 2, 2)
        self.bn = _bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


def make_op(op: int, c: int, stride: int) -> nn.Module:
    """Instantiate RENAS operation ``op`` (0..7) on ``c`` channels with ``stride`` (1 or 2)."""
    if op in SEP_KERNELS:
        return SepConvStack(c, SEP_KERNELS[op], stride)
    if op == 3:
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if op == 4:
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if op == 5:
        return ReLUConvBN(c, c, 3, stride)
    if op == 6:
        return Conv1x7x7x1(c, stride)
    if op == 7:
        # identity with stride 2 (reduction cell on h0/h1) is a 3x3 max pool, as in the RENAS code
        return nn.Identity() if stride == 1 else nn.MaxPool2d(3, stride=stride, padding=1)
    raise EatnasError(f"unknown RENAS op code {op!r}; expected 0..{NUM_OPS - 1}")


def op_cost(op: int, c: int, h_in: int, stride: int) -> tuple[int, int]:
    """(params, MACs) of :func:`make_op` on a ``c``-channel ``h_in`` x ``h_in`` input."""
    h = out_size(h_in, stride)
    if op in SEP_KERNELS:
        k = SEP_KERNELS[op]
        per = c * k * k + c * c  # depthwise + pointwise weights of one separable conv
        return 2 * (per + 2 * c), 2 * per * h * h
    if op in (3, 4, 7):
        return 0, 0
    if op == 5:
        return 9 * c * c + 2 * c, 9 * c * c * h * h
    if op == 6:
        return 2 * (7 * c * c + 2 * c), 14 * c * c * h * h
    raise EatnasError(f"unknown RENAS op code {op!r}; expected 0..{NUM_OPS - 1}")


def squeeze_cost(c_in: int, c_out: int, h: int) -> tuple[int, int]:
    """(params, MACs) of the ReLU-1x1 conv-BN preprocessing."""
    return c_in * c_out + 2 * c_out, c_in * c_out * h * h


def factorized_reduce_cost(c_in: int, c_out: int, h_in: int) -> tuple[int, int]:
    """(params, MACs) of :class:`FactorizedReduce` on an ``h_in`` input."""
    h = out_size(h_in, 2)
    return c_in * c_out + 2 * c_out, c_in * c_out * h * h


def sum_costs(parts: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """Component-wise sum of (params, MACs) pairs."""
    return sum(p for p, _ in parts), sum(m for _, m in parts)
