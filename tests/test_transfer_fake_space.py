"""A tiny block-style search space for transfer tests (registered as ``fake_transfer``), plus its sanity tests.

Three blocks x (op, kernel, skip, layers, width); op 2 with kernel 2 is invalid so that the
generators must honour validity. ``build`` makes a small conv net following the
``stem.* / blocks.B.layers.L.* / classifier.*`` naming convention; ``cost`` is analytic.
"""

from __future__ import annotations

import random
from typing import Sequence

import torch
from torch import nn

from eatnas.errors import ArchStringError
from eatnas.space.base import SPACES, BuildSpec, Cost, SearchSpace

FIELDS = ("op", "kernel", "skip", "layers", "width")
SIZES = (3, 3, 2, 4, 4)
KERNELS = (1, 3, 5)
WIDTHS = (0.5, 1.0, 1.5, 2.0)
BASE = (4, 8, 8)


def _layer(c_in: int, c_out: int, k: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class _Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_layer(c_in if i == 0 else c_out, c_out, k) for i in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class _Net(nn.Module):
    def __init__(self, arch: tuple[int, ...], spec: BuildSpec) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(spec.in_channels, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        blocks, c = [], 4
        for b, out in enumerate(FakeSpace.block_channels(arch)):
            k = KERNELS[arch[5 * b + 1]]
            blocks.append(_Block(c, out, k, arch[5 * b + 3] + 1))
            c = out
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(c, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(x.mean((2, 3)))


@SPACES.register("fake_transfer")
class FakeSpace(SearchSpace):
    name = "fake_transfer"

    def vocab_sizes(self) -> tuple[int, ...]:
        return SIZES * len(BASE)

    def position_names(self) -> tuple[str, ...]:
        return tuple(f"b{b}.{f}" for b in range(len(BASE)) for f in FIELDS)

    def tokens(self, arch: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(arch)

    def from_tokens(self, tokens: Sequence[int]) -> tuple[int, ...]:
        toks = tuple(int(t) for t in tokens)
        if len(toks) != len(self.vocab_sizes()) or any(not 0 <= t < n for t, n in zip(toks, self.vocab_sizes())):
            raise ValueError(f"bad tokens {toks}")
        if any(toks[5 * b] == 2 and toks[5 * b + 1] == 2 for b in range(len(BASE))):
            raise ValueError("op 2 cannot use kernel 5")
        return toks

    def encode(self, arch: tuple[int, ...]) -> str:
        return "-".join("".join(str(t) for t in arch[5 * b:5 * b + 5]) for b in range(len(BASE)))

    def decode(self, text: str) -> tuple[int, ...]:
        parts = text.split("-")
        if len(parts) != len(BASE) or any(len(p) != 5 or not p.isdigit() for p in parts):
            raise ArchStringError(f"expected {len(BASE)} groups of 5 digits, got {text!r}", 0)
        try:
            return self.from_tokens([int(c) for p in parts for c in p])
        except ValueError as exc:
            raise ArchStringError(str(exc), 0) from None

    @staticmethod
    def block_channels(arch: Sequence[int]) -> list[int]:
        return [max(1, int(c * WIDTHS[arch[5 * b + 4]])) for b, c in enumerate(BASE)]

    def build(self, arch: tuple[int, ...], spec: BuildSpec) -> nn.Module:
        return _Net(self.from_tokens(arch), spec)

    def cost(self, arch: tuple[int, ...], spec: BuildSpec) -> Cost:
        hw = spec.input_size ** 2
        params = spec.in_channels * 4 * 9 + 8
        macs = spec.in_channels * 4 * 9 * hw
        c = 4
        for b, out in enumerate(self.block_channels(arch)):
            k = KERNELS[arch[5 * b + 1]]
            for i in range(arch[5 * b + 3] + 1):
                cin = c if i == 0 else out
                params += cin * out * k * k + 2 * out
                macs += cin * out * k * k * hw
            c = out
        params += c * spec.num_classes + spec.num_classes
        macs += c * spec.num_classes
        return Cost(params, macs)


def test_fake_space_cost_matches_built_module() -> None:
    space = FakeSpace()
    rng = random.Random(0)
    spec = BuildSpec(num_classes=5, input_size=6, in_channels=1)
    for _ in range(5):
        arch = space.sample(rng)
        model = space.build(arch, spec)
        assert space.cost(arch, spec).params == sum(p.numel() for p in model.parameters())
        assert model(torch.zeros(2, 1, 6, 6)).shape == (2, 5)
        assert space.decode(space.encode(arch)) == arch
