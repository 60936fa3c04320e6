"""The NAS-Bench-201 (NATS-Bench topology) network and its analytic cost.

Mirrors the official ``TinyNetwork`` / ``InferCell`` / ``ResNetBasicblock`` of the NAS-Bench-201
code: stem 3x3 conv (C) + BN, three stages of ``N`` cells at C, 2C, 4C separated by ResNet basic
reduction blocks, BN-ReLU, global average pool, linear classifier.

A cell has 4 nodes and 6 edges, in the order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3; each edge carries
one op code: 0 none, 1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3.

Counting convention (matches the benchmark's ``params_mb`` for all 15,625 cells): every trainable
parameter counts (conv weights, BN affine weight and bias, linear weight and bias); convs followed
by BN have no bias; ``none`` and ``skip_connect`` and ``avg_pool_3x3`` edges own no parameters.
MACs count convolutions and the classifier only (no BN, pooling, ReLU or additions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch
from torch import nn

from eatnas.errors import EatnasError

if TYPE_CHECKING:  # pragma: no cover
    from eatnas.space.base import Cost

OP_NAMES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_EDGES = len(EDGES)


def check_ops(ops: Sequence[int | str]) -> tuple[int, ...]:
    """Validate 6 edge ops (codes 0..4 or official names such as ``nor_conv_3x3``) into op codes.

    Raises :class:`EatnasError` naming the bad edge.
    """
    ops = tuple(ops)
    if len(ops) != NUM_EDGES:
        raise EatnasError(f"NAS-Bench-201 cell needs {NUM_EDGES} edge ops, got {len(ops)}")
    codes = []
    for i, op in enumerate(ops):
        if isinstance(op, str) and op in OP_NAMES:
            op = OP_NAMES.index(op)
        if isinstance(op, bool) or not isinstance(op, int) or not 0 <= op < len(OP_NAMES):
            raise EatnasError(
                f"NAS-Bench-201 edge {i} ({EDGES[i][0]}->{EDGES[i][1]}): op {op!r} is neither a code "
                f"0..{len(OP_NAMES) - 1} nor one of {', '.join(OP_NAMES)}"
            )
        codes.append(op)
    return tuple(codes)


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (no bias) -> BN, as the official ``ReLUConvBN``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` edge: outputs zeros of the input's shape (C_in == C_out, stride 1 in cells)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_edge_op(op: int, channels: int) -> nn.Module:
    """One cell-edge operation at ``channels`` (inside a cell C_in == C_out and stride is 1)."""
    if op == 0:
        return Zero()
    if op == 1:
        return nn.Identity()
    if op == 2:
        return ReLUConvBN(channels, channels, 1, 1)
    if op == 3:
        return ReLUConvBN(channels, channels, 3, 1)
    if op == 4:
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise EatnasError(f"unknown NAS-Bench-201 op code {op!r}")


class NB201Cell(nn.Module):
    """4-node DAG cell: node j = sum over i<j of edge_op(i->j)(node i); output node 3."""

    def __init__(self, ops: Sequence[int | str], channels: int) -> None:
        super().__init__()
        self.ops = check_ops(ops)
        self.edges = nn.ModuleList(make_edge_op(op, channels) for op in self.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for target in range(1, 4):
            total = None
            for k, (src, dst) in enumerate(EDGES):
                if dst == target:
                    y = self.edges[k](nodes[src])
                    total = y if total is None else total + y
            nodes.append(total)
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """The stride-2 reduction block between stages: two ReLU-conv-BN 3x3 plus avgpool-1x1 shortcut.

    The shortcut pool uses ``ceil_mode=True`` so that odd spatial sizes match the conv branch
    (identical to the official block at even sizes).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0, ceil_mode=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Network(nn.Module):
    """The NAS-Bench-201 topology network (``stem``, ``cells``, ``lastact``, ``classifier``)."""

    def __init__(self, ops: Sequence[int | str], num_classes: int = 10, C: int = 16, N: int = 5, in_channels: int = 3) -> None:
        super().__init__()
        _check_sizes(num_classes=num_classes, C=C, N=N, in_channels=in_channels)
        ops = check_ops(ops)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells: list[nn.Module] = []
        c_prev = C
        for stage in range(3):
            c = C * 2**stage
            if stage > 0:
                cells.append(ResNetBasicBlock(c_prev, c))
            cells.extend(NB201Cell(ops, c) for _ in range(N))
            c_prev = c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)


def build_nb201_network(
    ops: Sequence[int | str], num_classes: int = 10, C: int = 16, N: int = 5, in_channels: int = 3
) -> nn.Module:
    """Build the NAS-Bench-201 network for the 6-edge cell ``ops`` (codes or official op names)."""
    return NB201Network(ops, num_classes=num_classes, C=C, N=N, in_channels=in_channels)


def _check_sizes(**sizes: int) -> None:
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EatnasError(f"NAS-Bench-201 network: {key} must be a positive integer, got {value!r}")


def _conv(c_in: int, c_out: int, k: int, h_out: int, bn: bool) -> tuple[int, int]:
    """(params, MACs) of a bias-free k x k conv (+ optional BN) producing an h_out x h_out map."""
    params = c_in * c_out * k * k + (2 * c_out if bn else 0)
    return params, c_in * c_out * k * k * h_out * h_out


def _cell_cost(ops: Sequence[int], c: int, h: int) -> tuple[int, int]:
    params = macs = 0
    for op in ops:
        if op in (2, 3):
            p, m = _conv(c, c, 1 if op == 2 else 3, h, bn=True)
            params += p
            macs += m
    return params, macs


def nb201_cost(
    ops: Sequence[int | str], num_classes: int = 10, C: int = 16, N: int = 5, input_size: int = 32, in_channels: int = 3
) -> Cost:
    """Analytic parameters and MACs of :func:`build_nb201_network` at ``input_size`` (no instantiation)."""
    from eatnas.space.base import Cost  # lazy: eatnas.space imports this module
    ops = check_ops(ops)
    _check_sizes(num_classes=num_classes, C=C, N=N, input_size=input_size, in_channels=in_channels)
    h = input_size
    params, macs = _conv(in_channels, C, 3, h, bn=True)
    c_prev = C
    for stage in range(3):
        c = C * 2**stage
        if stage > 0:
            h = (h - 1) // 2 + 1
            for part in (_conv(c_prev, c, 3, h, True), _conv(c, c, 3, h, True), _conv(c_prev, c, 1, h, False)):
                params += part[0]
                macs += part[1]
        p, m = _cell_cost(ops, c, h)
        params += N * p
        macs += N * m
        c_prev = c
    params += 2 * c_prev + c_prev * num_classes + num_classes
    macs += c_prev * num_classes
    return Cost(params=params, macs=macs)
