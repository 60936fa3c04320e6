"""A small reference network with elastic kernel, width and depth, for tests, benchmarks and smoke runs.

It follows the naming convention of ``docs/architecture.md``: ``stem.*``, stages of repeated
inverted-residual layers ``blocks.<b>.layers.<l>.*``, then ``head.*`` and ``classifier.*``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """1×1 expansion, depthwise k×k, 1×1 linear projection; identity shortcut when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = conv_bn(cin, hidden, 1)
        self.depthwise = conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class Stage(nn.Module):
    """``layers.<l>``: the first layer may stride and change width, the others keep both."""

    def __init__(self, cin: int, width: int, depth: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            InvertedResidual(cin if i == 0 else width, width, kernel, stride if i == 0 else 1, expand)
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class RefNet(nn.Module):
    """stem conv -> stages (``widths``, ``depths``, ``kernels``, ``strides``) -> 1×1 head -> pool -> linear."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, *, widths: Sequence[int] = (16, 24),
                 depths: Sequence[int] = (2, 2), kernels: Sequence[int] = (3, 3), strides: Sequence[int] = (1, 2),
                 expand: int = 3, stem: int = 8, head: int = 64) -> None:
        super().__init__()
        if not len(widths) == len(depths) == len(kernels) == len(strides):
            raise ValueError("widths, depths, kernels and strides need one entry per stage")
        self.stem = conv_bn(in_channels, stem, 3)
        stages, cin = [], stem
        for w, d, k, s in zip(widths, depths, kernels, strides):
            stages.append(Stage(cin, w, d, k, s, expand))
            cin = w
        self.blocks = nn.ModuleList(stages)
        self.head = conv_bn(cin, head, 1)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.blocks:
            x = stage(x)
        x = self.head(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
