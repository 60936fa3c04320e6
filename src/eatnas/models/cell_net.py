"""RENAS / NASNet-style cell networks: the cell, the two network templates, and their analytic cost.

A *genotype* is a tuple of 10 ``(op, input)`` pairs, two per block (B = 5). Cell-local node
indices: 0 = h0 (preprocessed c_{k-2}), 1 = h1 (preprocessed c_{k-1}), 2.. = block outputs; block
``b`` (0-based) may read inputs ``< b + 2``. A block adds its two op outputs. The cell output is
the channel concat of the block outputs that no block reads (in block order), followed by h0 in
normal cells (reduction cells do not append h0), as in the RENAS code.

Templates (both planned by :func:`plan_network`, which the builder and the cost share):

- ``cifar``: stem 3x3 conv stride 1 (``stem_channels``) + BN; N normal cells at F, a reduction
  cell at 2F, N normal cells at 2F, a reduction cell at 4F, N normal cells at 4F.
- ``imagenet`` (mobile, papers.md 3.6): stem 3x3 conv stride 2 without padding (``stem_channels``,
  32) + BN; reduction "stem" cells at int(F/4) and int(F/2); then the three stages as above.

Both end with ReLU, global average pool, dropout and a linear ``classifier``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Optional, Sequence

import torch
from torch import nn

from eatnas.errors import EatnasError
from eatnas.models.cell_ops import (
    NUM_OPS,
    FactorizedReduce,
    ReLUConvBN,
    factorized_reduce_cost,
    make_op,
    op_cost,
    out_size,
    squeeze_cost,
    sum_costs,
)

if TYPE_CHECKING:  # pragma: no cover
    from eatnas.space.base import Cost

Pair = tuple[int, int]
Genotype = tuple[Pair, ...]
NUM_BLOCKS = 5
TEMPLATES = ("cifar", "imagenet")
# how h0 is made: from c_{k-2} by a 1x1 squeeze, by FactorizedReduce (c_{k-2} is twice as large),
# or, in the first cell (no c_{k-2}), from c_{k-1} by a squeeze or unchanged when it already has F channels.
Pre0 = Literal["squeeze", "reduce", "squeeze_cur", "identity_cur"]


def output_nodes(genotype: Genotype) -> tuple[int, ...]:
    """Block-output node indices (2..6) that no block reads: they are concatenated into the output."""
    used = {inp for _, inp in genotype}
    return tuple(n for n in range(2, 2 + NUM_BLOCKS) if n not in used)


def cell_multiplier(genotype: Genotype, reduction: bool) -> int:
    """Output channels of a cell in units of its F."""
    return len(output_nodes(genotype)) + (0 if reduction else 1)


@dataclass(frozen=True)
class CellTemplate:
    """Network skeleton options (everything that is not the genotype or the BuildSpec)."""

    kind: str = "cifar"
    filters: int = 16  # F of the first normal stage
    cells_per_stage: int = 2  # N
    stem_channels: int = 48
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in TEMPLATES:
            raise EatnasError(f"cell network template {self.kind!r} unknown; choose one of {TEMPLATES}")
        for key in ("filters", "cells_per_stage", "stem_channels"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EatnasError(f"cell network option {key} must be a positive integer, got {value!r}")
        if self.kind == "imagenet" and self.filters < 4:
            raise EatnasError(f"imagenet template needs filters >= 4 (stem cells use F/4), got {self.filters}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise EatnasError(f"cell network option dropout must be in [0, 1), got {self.dropout!r}")


@dataclass(frozen=True)
class CellPlan:
    """One cell of a planned network: its type, width, input channels/sizes and h0 preprocessing."""

    reduction: bool
    filters: int
    c_prev: int  # channels of c_{k-2} (== c_cur when there is none)
    c_cur: int  # channels of c_{k-1}
    h_prev: int
    h_cur: int
    pre0: Pre0
    c_out: int
    h_out: int


@dataclass(frozen=True)
class NetworkPlan:
    stem_channels: int
    stem_stride: int
    stem_padding: int
    h_stem: int
    cells: tuple[CellPlan, ...]


def plan_network(
    normal: Genotype, reduction: Genotype, template: CellTemplate, input_size: int, in_channels: int
) -> NetworkPlan:
    """Lay out stem and cells for ``template`` at ``input_size``; shared by builder and cost."""
    for key, value in (("input_size", input_size), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise EatnasError(f"cell network: {key} must be a positive integer, got {value!r}")
    f = template.filters
    n = template.cells_per_stage
    layout: list[tuple[bool, int]] = []
    if template.kind == "imagenet":
        if input_size < 3:
            raise EatnasError(f"imagenet template needs input_size >= 3 (unpadded 3x3 stem), got {input_size}")
        stride, padding = 2, 0
        layout += [(True, int(f * 0.25)), (True, int(f * 0.5))]
    else:
        stride, padding = 1, 1
    layout += [(False, f)] * n + [(True, 2 * f)] + [(False, 2 * f)] * n + [(True, 4 * f)] + [(False, 4 * f)] * n
    h = (input_size + 2 * padding - 3) // stride + 1
    c_prev: Optional[int] = None
    h_prev = h
    c_cur, h_cur = template.stem_channels, h
    prev_was_reduction = False
    cells = []
    for is_red, width in layout:
        if c_prev is None:
            pre0: Pre0 = "identity_cur" if c_cur == width else "squeeze_cur"
        else:
            pre0 = "reduce" if prev_was_reduction else "squeeze"
        h_out = out_size(h_cur, 2 if is_red else 1)
        c_out = width * cell_multiplier(reduction if is_red else normal, is_red)
        cells.append(
            CellPlan(is_red, width, c_cur if c_prev is None else c_prev, c_cur, h_prev, h_cur, pre0, c_out, h_out)
        )
        c_prev, h_prev = c_cur, h_cur
        c_cur, h_cur = c_out, h_out
        prev_was_reduction = is_red
    return NetworkPlan(template.stem_channels, stride, padding, h, tuple(cells))


class CellBlock(nn.Module):
    """One block: ``left(node[in_left]) + right(node[in_right])``."""

    def __init__(self, left: Pair, right: Pair, filters: int, reduction: bool) -> None:
        super().__init__()
        self.inputs = (left[1], right[1])
        self.left = make_op(left[0], filters, 2 if reduction and left[1] < 2 else 1)
        self.right = make_op(right[0], filters, 2 if reduction and right[1] < 2 else 1)

    def forward(self, nodes: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.left(nodes[self.inputs[0]]) + self.right(nodes[self.inputs[1]])


class Cell(nn.Module):
    """A normal or reduction cell (``pre0``, ``pre1``, ``blocks``) built from ``plan``."""

    def __init__(self, genotype: Genotype, plan: CellPlan) -> None:
        super().__init__()
        f = plan.filters
        self.pre0_from_cur = plan.pre0 in ("squeeze_cur", "identity_cur")
        if plan.pre0 == "identity_cur":
            self.pre0: nn.Module = nn.Identity()
        elif plan.pre0 == "reduce":
            self.pre0 = FactorizedReduce(plan.c_prev, f)
        else:
            self.pre0 = ReLUConvBN(plan.c_prev, f, 1)
        self.pre1 = ReLUConvBN(plan.c_cur, f, 1)
        self.blocks = nn.ModuleList(
            CellBlock(genotype[2 * b], genotype[2 * b + 1], f, plan.reduction) for b in range(NUM_BLOCKS)
        )
        self.concat = output_nodes(genotype) + (() if plan.reduction else (0,))

    def forward(self, prev: Optional[torch.Tensor], cur: torch.Tensor) -> torch.Tensor:
        h0 = self.pre0(cur if self.pre0_from_cur or prev is None else prev)
        nodes = [h0, self.pre1(cur)]
        for block in self.blocks:
            nodes.append(block(nodes))
        return torch.cat([nodes[i] for i in self.concat], dim=1)


class CellNetwork(nn.Module):
    """Stem, a ModuleList ``cells``, ReLU, global pool, dropout, linear ``classifier``."""

    def __init__(self, normal: Genotype, reduction: Genotype, plan: NetworkPlan, num_classes: int,
                 in_channels: int, dropout: float) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, plan.stem_channels, 3, stride=plan.stem_stride, padding=plan.stem_padding,
                      bias=False),
            nn.BatchNorm2d(plan.stem_channels),
        )
        self.cells = nn.ModuleList(Cell(reduction if p.reduction else normal, p) for p in plan.cells)
        self.relu = nn.ReLU(inplace=False)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(plan.cells[-1].c_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev: Optional[torch.Tensor] = None
        cur = self.stem(x)
        for cell in self.cells:
            prev, cur = cur, cell(prev, cur)
        out = self.global_pooling(self.relu(cur)).flatten(1)
        return self.classifier(self.dropout(out))


def check_genotype(genotype: Sequence[Sequence[int]], what: str = "genotype") -> Genotype:
    """Validate 10 (op, input) pairs with block ``b`` reading inputs < b + 2; raise ``ValueError``."""
    pairs = tuple(tuple(p) for p in genotype)
    if len(pairs) != 2 * NUM_BLOCKS:
        raise ValueError(f"{what}: expected {2 * NUM_BLOCKS} (op, input) pairs, got {len(pairs)}")
    for k, pair in enumerate(pairs):
        if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
            raise ValueError(f"{what}: pair {k} must be two ints (op, input), got {pair!r}")
        op, inp = pair
        if not 0 <= op < NUM_OPS:
            raise ValueError(f"{what}: pair {k} (block {k // 2 + 1}): op {op} not in 0..{NUM_OPS - 1}")
        if not 0 <= inp < k // 2 + 2:
            raise ValueError(f"{what}: pair {k} (block {k // 2 + 1}): input {inp} not in 0..{k // 2 + 1}")
    return pairs  # type: ignore[return-value]


def build_cell_network(
    normal: Sequence[Sequence[int]],
    reduction: Sequence[Sequence[int]],
    template: CellTemplate = CellTemplate(),
    num_classes: int = 10,
    input_size: int = 32,
    in_channels: int = 3,
) -> CellNetwork:
    """Instantiate the cell network for the two genotypes (pass the same one twice when shared)."""
    normal_g, reduction_g, plan = _checked_plan(normal, reduction, template, num_classes, input_size, in_channels)
    return CellNetwork(normal_g, reduction_g, plan, num_classes, in_channels, template.dropout)


def _checked_plan(normal: Sequence[Sequence[int]], reduction: Sequence[Sequence[int]], template: CellTemplate,
                  num_classes: int, input_size: int, in_channels: int) -> tuple[Genotype, Genotype, NetworkPlan]:
    """Validated genotypes and the network plan shared by the builder and the analytic cost."""
    normal_g, reduction_g = check_genotype(normal, "normal"), check_genotype(reduction, "reduction")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise EatnasError(f"cell network: num_classes must be a positive integer, got {num_classes!r}")
    return normal_g, reduction_g, plan_network(normal_g, reduction_g, template, input_size, in_channels)


def _cell_cost(genotype: Genotype, plan: CellPlan) -> tuple[int, int]:
    f = plan.filters
    parts = [squeeze_cost(plan.c_cur, f, plan.h_cur)]
    if plan.pre0 == "reduce":
        parts.append(factorized_reduce_cost(plan.c_prev, f, plan.h_prev))
    elif plan.pre0 != "identity_cur":
        parts.append(squeeze_cost(plan.c_prev, f, plan.h_cur))
    for op, inp in genotype:
        on_input = inp < 2
        stride = 2 if plan.reduction and on_input else 1
        parts.append(op_cost(op, f, plan.h_cur if on_input else plan.h_out, stride))
    return sum_costs(parts)


def cell_network_cost(
    normal: Sequence[Sequence[int]],
    reduction: Sequence[Sequence[int]],
    template: CellTemplate = CellTemplate(),
    num_classes: int = 10,
    input_size: int = 32,
    in_channels: int = 3,
) -> Cost:
    """Analytic (params, MACs) of :func:`build_cell_network`, without instantiating it."""
    from eatnas.space.base import Cost  # lazy: eatnas.space imports this module
    normal_g, reduction_g, plan = _checked_plan(normal, reduction, template, num_classes, input_size, in_channels)
    s = plan.stem_channels
    parts = [(9 * in_channels * s + 2 * s, 9 * in_channels * s * plan.h_stem * plan.h_stem)]
    parts += [_cell_cost(reduction_g if p.reduction else normal_g, p) for p in plan.cells]
    c_last = plan.cells[-1].c_out
    parts.append((c_last * num_classes + num_classes, c_last * num_classes))
    params, macs = sum_costs(parts)
    return Cost(params=params, macs=macs)
