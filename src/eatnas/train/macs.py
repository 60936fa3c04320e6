"""Parameter and multiply-accumulate counts of any module, measured with forward hooks."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: Sequence[int], device: torch.device | str | None = None) -> int:
    """Multiply-accumulates of conv and linear layers for one input of shape ``(C, H, W)`` (or ``(F,)``).

    Conv: ``out_elements * in_channels / groups * kernel_area``; linear: ``in * out`` per row.
    Runs one forward pass in eval mode under ``no_grad``; the model's mode is restored.
    """
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    total = 0

    def conv_hook(mod: nn.modules.conv._ConvNd, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = 1
        for s in mod.kernel_size:
            k *= s
        total += out[0].numel() * (mod.in_channels // mod.groups) * k

    def linear_hook(mod: nn.Linear, inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * mod.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total)
