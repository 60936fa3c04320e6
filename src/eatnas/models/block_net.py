"""MobileNetV2-style block network of the EAT-NAS space: a plan (pure data, with analytic cost) and its module.

``plan_network(genes, ...)`` turns 7 block genes plus build options into a :class:`NetPlan`
(channels, strides, shortcuts, feature-map sizes of every layer); :func:`plan_cost` counts its
parameters and MACs analytically and :class:`BlockNet` instantiates it. Operation types live in the
``OPS`` registry, so a new layer type is one ``OPS.register(name)(OpType(...))`` call.

Module names (weight inheritance relies on them): ``stem.*``, ``blocks.<b>.layers.<l>.*`` (layer 0
is the stride/width-changing one), ``head.*``, ``classifier.*``; inside a layer ``expand``, ``dw``,
``project``, ``shortcut``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import torch
from torch import nn

from eatnas.errors import ConfigError
from eatnas.models.layers import (
    ConvBNAct, LayerCost, MBConv, SepConv, conv_bn_act_cost, init_weights, linear_cost, mbconv_cost,
    sep_conv_cost, total_cost,
)
from eatnas.registry import Registry

BASE_CHANNELS = (16, 24, 32, 64, 96, 160, 320)
FIRST_STRIDES = (1, 2, 2, 2, 1, 2, 1)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
MIN_INPUT = 4              # smallest input resolution that builds
STEM_STRIDE_MIN_INPUT = 64  # automatic stem stride 2 only for inputs at least this large
MIN_STRIDE_SIZE = 4         # a block's stride 2 is applied only while the feature map is >= this
SKIP_MODES = ("projection", "mobilenetv2")


class OpType(NamedTuple):
    """A layer type of the block space: builder and analytic-cost twin with the same arguments."""

    build: Callable[[int, int, int, int, str], nn.Module]               # c_in, c_out, kernel, stride, shortcut
    cost: Callable[[int, int, int, int, int, str], tuple[LayerCost, int]]  # ... , input size, shortcut
    kind: str          # "sep" or "mb": ``sepconv_skip=False`` disables the skip of every "sep" op
    description: str


OPS: Registry[OpType] = Registry("block operation")

OPS.register("sep")(OpType(
    lambda ci, co, k, s, sc: SepConv(ci, co, k, s, sc),
    lambda ci, co, k, s, size, sc: sep_conv_cost(ci, co, k, s, size, sc),
    "sep", "SepConv: dw kxk-BN-ReLU, pw 1x1-BN-ReLU"))


def _register_mbconv(t: int) -> None:
    OPS.register(f"mb{t}")(OpType(
        lambda ci, co, k, s, sc: MBConv(ci, co, k, s, t, sc),
        lambda ci, co, k, s, size, sc: mbconv_cost(ci, co, k, s, size, t, sc),
        "mb", f"MBConv t={t}: " + ("" if t == 1 else f"pw 1x1 x{t}-BN-ReLU, ") + "dw kxk-BN-ReLU, linear pw 1x1-BN"))


for _t in (1, 3, 6):
    _register_mbconv(_t)


class BlockGene(NamedTuple):
    """One searchable block: operation name, kernel, skip flag (0/1), repeated layers, width factor."""

    op: str
    kernel: int
    skip: int
    layers: int
    width: float


@dataclass(frozen=True)
class NetOptions:
    """Build-time options of the block network (not part of the architecture)."""

    width_multiplier: float = 1.0
    skip_mode: str = "projection"
    stem_stride: int | None = None
    head_channels: int = HEAD_CHANNELS
    dropout: float = 0.0
    sepconv_skip: bool = True
    base_channels: tuple[int, ...] = BASE_CHANNELS
    first_strides: tuple[int, ...] = FIRST_STRIDES
    stem_channels: int = STEM_CHANNELS

    def __post_init__(self) -> None:
        if not self.width_multiplier > 0:
            raise ConfigError(f"space.width_multiplier is {self.width_multiplier!r}; use a number > 0 (e.g. 1.0)")
        if self.skip_mode not in SKIP_MODES:
            raise ConfigError(f"space.skip_mode is {self.skip_mode!r}; choose one of {list(SKIP_MODES)}")
        if self.stem_stride not in (None, 1, 2):
            raise ConfigError(f"space.stem_stride is {self.stem_stride!r}; use 1, 2 or null (resolution rule)")
        if self.head_channels < 1:
            raise ConfigError(f"space.head_channels is {self.head_channels!r}; use a positive integer (e.g. 1280)")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"space.dropout is {self.dropout!r}; use a value in [0, 1)")
        if len(self.base_channels) != len(self.first_strides):
            raise ConfigError("base_channels and first_strides must have one entry per block")


class LayerPlan(NamedTuple):
    """One layer of a block: everything needed to build it and count its cost."""

    op: str
    c_in: int
    c_out: int
    kernel: int
    stride: int
    shortcut: str  # none | identity | projection
    size: int      # input feature-map size


@dataclass(frozen=True)
class NetPlan:
    """A fully resolved network: per-layer channels, strides, shortcuts and feature-map sizes."""

    in_channels: int
    input_size: int
    stem_channels: int
    stem_stride: int
    blocks: tuple[tuple[LayerPlan, ...], ...]
    head_in: int
    head_channels: int
    num_classes: int
    dropout: float
    feature_size: int  # spatial size entering the head


def scale_channels(base: int, factor: float) -> int:
    """``int(base * factor)`` (paper code, ``mbv2base=True``), at least 1; tolerant of float error."""
    return max(1, int(base * factor + 1e-9))


def resolve_strides(input_size: int, options: NetOptions) -> tuple[int, tuple[int, ...]]:
    """The stride rule: (stem stride, effective first-layer stride of each block) for ``input_size``.

    Stem stride 2 when ``stem_stride`` says so, or (when null) when the input is >= 64 px; a block's
    stride 2 is applied only while the current map is >= 4 px (so it never falls below 2 px).
    At 224 this gives MobileNetV2's 224->112->112->56->28->14->14->7->7.
    """
    if not isinstance(input_size, int) or input_size < MIN_INPUT:
        raise ConfigError(f"input size {input_size!r} px is too small for the block space; use an integer >= {MIN_INPUT}")
    stem = options.stem_stride or (2 if input_size >= STEM_STRIDE_MIN_INPUT else 1)
    size = (input_size - 1) // stem + 1
    strides = []
    for s in options.first_strides:
        eff = s if (s == 1 or size >= MIN_STRIDE_SIZE) else 1
        strides.append(eff)
        size = (size - 1) // eff + 1
    return stem, tuple(strides)


def choose_shortcut(op: str, skip: int, c_in: int, c_out: int, stride: int, options: NetOptions) -> str:
    """Shortcut of one layer: identity when shapes match, else projection (``projection`` mode) or none."""
    if not skip or (not options.sepconv_skip and OPS.get(op).kind == "sep"):
        return "none"
    if c_in == c_out and stride == 1:
        return "identity"
    return "projection" if options.skip_mode == "projection" else "none"


def plan_network(genes: Sequence[BlockGene], num_classes: int, input_size: int, in_channels: int,
                 options: NetOptions) -> NetPlan:
    """Resolve channels, strides, shortcuts and sizes of every layer."""
    if len(genes) != len(options.base_channels):
        raise ValueError(f"expected {len(options.base_channels)} block genes, got {len(genes)}")
    if num_classes < 1 or in_channels < 1:
        raise ConfigError(f"num_classes={num_classes!r}, in_channels={in_channels!r}: both must be positive integers")
    wm = options.width_multiplier
    stem_stride, strides = resolve_strides(input_size, options)
    stem_c = scale_channels(options.stem_channels, wm)
    size = (input_size - 1) // stem_stride + 1
    c_in = stem_c
    blocks = []
    for gene, base, stride in zip(genes, options.base_channels, strides):
        c_out = scale_channels(base, gene.width * wm)
        layers = []
        for i in range(gene.layers):
            s = stride if i == 0 else 1
            ci = c_in if i == 0 else c_out
            layers.append(LayerPlan(gene.op, ci, c_out, gene.kernel, s,
                                    choose_shortcut(gene.op, gene.skip, ci, c_out, s, options), size))
            size = (size - 1) // s + 1
        blocks.append(tuple(layers))
        c_in = c_out
    head = scale_channels(options.head_channels, wm) if wm > 1 else options.head_channels
    return NetPlan(in_channels, input_size, stem_c, stem_stride, tuple(blocks), c_in, head, num_classes,
                   options.dropout, size)


def plan_cost(plan: NetPlan) -> LayerCost:
    """Parameters and MACs of a plan, analytically (equal to :class:`BlockNet`'s)."""
    stem, size = conv_bn_act_cost(plan.in_channels, plan.stem_channels, 3, plan.stem_stride, plan.input_size)
    parts = [stem]
    for block in plan.blocks:
        for lp in block:
            parts.append(OPS.get(lp.op).cost(lp.c_in, lp.c_out, lp.kernel, lp.stride, lp.size, lp.shortcut)[0])
    parts.append(conv_bn_act_cost(plan.head_in, plan.head_channels, 1, 1, plan.feature_size)[0])
    parts.append(linear_cost(plan.head_channels, plan.num_classes))
    return total_cost(parts)


class Block(nn.Module):
    """One searchable block: its repeated layers in ``layers`` (layer 0 changes stride/width)."""

    def __init__(self, layers: Sequence[LayerPlan]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            OPS.get(lp.op).build(lp.c_in, lp.c_out, lp.kernel, lp.stride, lp.shortcut) for lp in layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class BlockNet(nn.Module):
    """Stem -> 7 blocks -> 1x1 head -> global pool -> dropout -> linear classifier."""

    def __init__(self, plan: NetPlan, init: bool = True) -> None:
        """``init=False`` skips :func:`init_weights` (PyTorch's default init stays)."""
        super().__init__()
        self.plan = plan
        self.stem = ConvBNAct(plan.in_channels, plan.stem_channels, 3, plan.stem_stride)
        self.blocks = nn.ModuleList(Block(b) for b in plan.blocks)
        self.head = ConvBNAct(plan.head_in, plan.head_channels, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(plan.dropout) if plan.dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(plan.head_channels, plan.num_classes)
        if init:
            init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.forward_features(x)).flatten(1)
        return self.classifier(self.dropout(x))
