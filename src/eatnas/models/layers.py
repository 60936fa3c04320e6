"""Shared building blocks (conv-BN-act, SepConv, MBConv, projection shortcut) with analytic cost twins.

Every module ``X`` has a twin ``x_cost(...) -> LayerCost`` that computes its parameter count and
multiply-accumulates (MACs) from the constructor arguments and the input size alone, without
instantiating anything (pycls ``*_cx`` style). MAC convention (the same as ``ptflops``' ``aten``
backend): convolutions and linear layers only; BN, activations, pooling, residual additions and
biases are free. :func:`measure_macs` counts the same quantity with forward hooks on a built module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from eatnas.models.pointwise import StridedPointwiseConv2d
from eatnas.train.macs import count_macs, count_params  # noqa: F401  (count_params re-exported)

BN_MOMENTUM = 0.1  # PyTorch convention for the papers' MXNet momentum 0.9
SHORTCUTS = ("none", "identity", "projection")


@dataclass(frozen=True)
class LayerCost:
    """Parameters and MACs (per image) of one layer or a sum of layers."""

    params: int = 0
    macs: int = 0

    def __add__(self, other: "LayerCost") -> "LayerCost":
        return LayerCost(self.params + other.params, self.macs + other.macs)


def total_cost(parts: Iterable[LayerCost]) -> LayerCost:
    """Sum of several costs."""
    p = m = 0
    for c in parts:
        p += c.params
        m += c.macs
    return LayerCost(p, m)


def conv_out_size(size: int, kernel: int, stride: int = 1, padding: int | None = None, dilation: int = 1) -> int:
    """Spatial output size of a convolution (``padding=None`` means 'same' padding ``dilation*(k//2)``)."""
    pad = dilation * (kernel // 2) if padding is None else padding
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def make_activation(act: str | None) -> nn.Module:
    """``'relu'``, ``'relu6'`` or ``None`` (identity)."""
    if act is None:
        return nn.Identity()
    if act == "relu":
        return nn.ReLU(inplace=True)
    if act == "relu6":
        return nn.ReLU6(inplace=True)
    raise ValueError(f"unknown activation {act!r}; use 'relu', 'relu6' or None")


# --- conv + BN + activation ----------------------------------------------------------------
class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> activation; submodules ``conv``, ``bn``, ``act``."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: str | None = "relu", padding: int | None = None, dilation: int = 1) -> None:
        pad = dilation * (kernel // 2) if padding is None else padding
        super().__init__()
        if kernel == 1 and stride > 1 and pad == 0:  # CPU channels_last bug workaround (models/pointwise.py)
            self.conv: nn.Conv2d = StridedPointwiseConv2d(c_in, c_out, stride, groups=groups)
        else:
            self.conv = nn.Conv2d(c_in, c_out, kernel, stride, pad, dilation=dilation, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, momentum=BN_MOMENTUM)
        self.act = make_activation(act)


def conv2d_cost(c_in: int, c_out: int, kernel: int, stride: int, size: int, groups: int = 1,
                bias: bool = False, padding: int | None = None, dilation: int = 1) -> tuple[LayerCost, int]:
    """Cost of a square Conv2d on a ``size``x``size`` input; returns (cost, output size)."""
    out = conv_out_size(size, kernel, stride, padding, dilation)
    weights = c_out * (c_in // groups) * kernel * kernel
    return LayerCost(weights + (c_out if bias else 0), weights * out * out), out


def bn_cost(channels: int) -> LayerCost:
    """BatchNorm2d: affine weight and bias; no MACs."""
    return LayerCost(2 * channels, 0)


def conv_bn_act_cost(c_in: int, c_out: int, kernel: int, stride: int, size: int, groups: int = 1,
                     padding: int | None = None, dilation: int = 1) -> tuple[LayerCost, int]:
    """Twin of :class:`ConvBNAct`; returns (cost, output size)."""
    conv, out = conv2d_cost(c_in, c_out, kernel, stride, size, groups, False, padding, dilation)
    return conv + bn_cost(c_out), out


def linear_cost(c_in: int, c_out: int, bias: bool = True) -> LayerCost:
    """Twin of ``nn.Linear``."""
    return LayerCost(c_in * c_out + (c_out if bias else 0), c_in * c_out)


# --- residual layers -----------------------------------------------------------------------
class _Residual(nn.Module):
    """A layer body plus an optional shortcut: ``'none'``, ``'identity'`` or ``'projection'``."""

    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: str) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"unknown shortcut {shortcut!r}; use one of {SHORTCUTS}")
        if shortcut == "identity" and (c_in != c_out or stride != 1):
            raise ValueError(f"identity shortcut needs c_in == c_out and stride 1 (got {c_in}->{c_out}, stride {stride})")
        self.shortcut_kind = shortcut
        self.shortcut = ConvBNAct(c_in, c_out, 1, stride, act=None) if shortcut == "projection" else None

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise TypeError(f"{type(self).__name__} must define body(x), the layer without its shortcut")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.shortcut_kind == "identity":
            return out + x
        if self.shortcut is not None:
            return out + self.shortcut(x)
        return out


def shortcut_cost(c_in: int, c_out: int, stride: int, size: int, shortcut: str) -> LayerCost:
    """Cost of the shortcut branch (only a projection has any)."""
    if shortcut != "projection":
        return LayerCost()
    return conv_bn_act_cost(c_in, c_out, 1, stride, size)[0]


class SepConv(_Residual):
    """Depthwise k x k (stride) -BN-act, then pointwise 1x1 -BN-act; submodules ``dw``, ``project``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, shortcut: str = "none",
                 act: str | None = "relu") -> None:
        super().__init__(c_in, c_out, stride, shortcut)
        self.dw = ConvBNAct(c_in, c_in, kernel, stride, groups=c_in, act=act)
        self.project = ConvBNAct(c_in, c_out, 1, 1, act=act)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.dw(x))


def sep_conv_cost(c_in: int, c_out: int, kernel: int, stride: int, size: int,
                  shortcut: str = "none") -> tuple[LayerCost, int]:
    """Twin of :class:`SepConv`; returns (cost, output size)."""
    dw, out = conv_bn_act_cost(c_in, c_in, kernel, stride, size, groups=c_in)
    pw, _ = conv_bn_act_cost(c_in, c_out, 1, 1, out)
    return dw + pw + shortcut_cost(c_in, c_out, stride, size, shortcut), out


class MBConv(_Residual):
    """Inverted residual: [1x1 expand -BN-act] -> k x k depthwise -BN-act -> 1x1 linear projection -BN.

    Submodules ``expand`` (absent when ``expansion == 1``), ``dw``, ``project``, ``shortcut``.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, expansion: int = 6,
                 shortcut: str = "none", act: str | None = "relu") -> None:
        super().__init__(c_in, c_out, stride, shortcut)
        hidden = c_in * expansion
        self.expand = ConvBNAct(c_in, hidden, 1, 1, act=act) if expansion != 1 else None
        self.dw = ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, act=act)
        self.project = ConvBNAct(hidden, c_out, 1, 1, act=None)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        if self.expand is not None:
            x = self.expand(x)
        return self.project(self.dw(x))


def mbconv_cost(c_in: int, c_out: int, kernel: int, stride: int, size: int, expansion: int = 6,
                shortcut: str = "none") -> tuple[LayerCost, int]:
    """Twin of :class:`MBConv`; returns (cost, output size)."""
    hidden = c_in * expansion
    cost = conv_bn_act_cost(c_in, hidden, 1, 1, size)[0] if expansion != 1 else LayerCost()
    dw, out = conv_bn_act_cost(hidden, hidden, kernel, stride, size, groups=hidden)
    pw, _ = conv_bn_act_cost(hidden, c_out, 1, 1, out)
    return cost + dw + pw + shortcut_cost(c_in, c_out, stride, size, shortcut), out


# --- initialisation and measurement --------------------------------------------------------
def init_weights(module: nn.Module) -> None:
    """MobileNetV2-style init: Kaiming (fan_out) convs, unit BN, N(0, 0.01) linear, zero biases.

    Modules on the ``meta`` device (shape-only builds) are skipped.
    """
    for m in module.modules():
        if any(p.is_meta for p in m.parameters(recurse=False)):
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def measure_macs(module: nn.Module, input_size: int, in_channels: int = 3) -> int:
    """MACs of one ``in_channels x input_size x input_size`` image, counted with forward hooks on Conv2d and
    Linear (:func:`eatnas.train.macs.count_macs`; a module built on the ``meta`` device gives a shape-only run)."""
    return count_macs(module, (in_channels, input_size, input_size))
