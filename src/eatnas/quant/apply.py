"""Applying a bit policy to a model: post-training quantization (PTQ), activation fake-quant hooks,
and short quantization-aware fine-tuning (QAT) through straight-through fake-quant parametrizations."""

from __future__ import annotations

import copy
from typing import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from eatnas.quant.policy import validate_policy
from eatnas.quant.quantizers import FLOAT_BITS, check_scheme, fake_quant, fake_quant_activation

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@torch.no_grad()
def quantize_model(model: nn.Module, policy: Mapping[str, int], scheme: str = "per_channel",
                   allowed: Sequence[int] | None = None, inplace: bool = False) -> nn.Module:
    """PTQ: a copy of ``model`` whose conv/linear weights are replaced by their dequantized values.

    Biases, BN and ``32``-bit layers stay float. ``policy`` must cover exactly the quantizable layers.
    """
    check_scheme(scheme)
    policy = validate_policy(model, policy, allowed)
    out = model if inplace else copy.deepcopy(model)
    mods = dict(out.named_modules())
    for name, bits in policy.items():
        if bits != FLOAT_BITS:
            w = mods[name].weight
            w.copy_(fake_quant(w, bits, scheme))
    return out


class WeightFakeQuant(nn.Module):
    """Parametrization: ``weight -> fake_quant(weight)`` with straight-through gradients."""

    def __init__(self, bits: int, scheme: str) -> None:
        super().__init__()
        self.bits, self.scheme = bits, scheme

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return fake_quant(w, self.bits, self.scheme)


def attach_weight_fake_quant(model: nn.Module, policy: Mapping[str, int], scheme: str = "per_channel") -> nn.Module:
    """Register fake-quant parametrizations (in place) so training sees quantized weights (QAT)."""
    policy = validate_policy(model, policy)
    mods = dict(model.named_modules())
    for name, bits in policy.items():
        if bits != FLOAT_BITS:
            parametrize.register_parametrization(mods[name], "weight", WeightFakeQuant(bits, check_scheme(scheme)))
    return model


def detach_weight_fake_quant(model: nn.Module) -> nn.Module:
    """Remove the parametrizations, keeping the float master weights (re-apply PTQ for the final model)."""
    for m in model.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    return model


class ActivationQuantizer:
    """Per-tensor fake-quant of the inputs of the quantized layers, on ranges calibrated from data."""

    def __init__(self, model: nn.Module, policy: Mapping[str, int], act_bits: int) -> None:
        self.model, self.act_bits = model, act_bits
        mods = dict(model.named_modules())
        self.layers = {n: mods[n] for n, b in policy.items() if b != FLOAT_BITS}
        self.ranges: dict[str, tuple[float, float]] = {}
        self._handles: list = []

    @torch.no_grad()
    def calibrate(self, batches: Batches, max_batches: int = 8) -> "ActivationQuantizer":
        """Record each layer input's min/max over up to ``max_batches`` batches."""
        def observe(name: str) -> Callable:
            def hook(_m: nn.Module, inputs: tuple) -> None:
                x = inputs[0]
                lo, hi = float(x.min()), float(x.max())
                old = self.ranges.get(name, (lo, hi))
                self.ranges[name] = (min(old[0], lo), max(old[1], hi))
            return hook

        handles = [m.register_forward_pre_hook(observe(n)) for n, m in self.layers.items()]
        was_training = self.model.training
        self.model.eval()
        try:
            for i, (x, _y) in enumerate(batches):
                if i >= max_batches:
                    break
                self.model(x)
        finally:
            for h in handles:
                h.remove()
            self.model.train(was_training)
        return self

    def enable(self) -> "ActivationQuantizer":
        """Install the fake-quant pre-hooks (call :meth:`calibrate` first)."""
        self.disable()
        for name, m in self.layers.items():
            lo, hi = self.ranges.get(name, (0.0, 0.0))

            def hook(_m: nn.Module, inputs: tuple, lo: float = lo, hi: float = hi) -> tuple:
                return (fake_quant_activation(inputs[0], self.act_bits, lo, hi),) + tuple(inputs[1:])

            self._handles.append(m.register_forward_pre_hook(hook))
        return self

    def disable(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()


def qat_finetune(model: nn.Module, policy: Mapping[str, int], batches: Callable[[], Batches], epochs: int,
                 scheme: str = "per_channel", lr: float = 0.005, momentum: float = 0.9,
                 seed: int = 0) -> nn.Module:
    """Short QAT: train ``epochs`` passes over ``batches()`` with fake-quantized weights (STE), then bake.

    Returns a PTQ-quantized copy of the fine-tuned float master weights (weights exactly on the grid).
    """
    torch.manual_seed(seed)
    work = attach_weight_fake_quant(copy.deepcopy(model), policy, scheme)
    opt = torch.optim.SGD(work.parameters(), lr=lr, momentum=momentum)
    loss_fn = nn.CrossEntropyLoss()
    work.train()
    for _ in range(int(epochs)):
        for x, y in batches():
            opt.zero_grad(set_to_none=True)
            loss_fn(work(x), y).backward()
            opt.step()
    detach_weight_fake_quant(work)
    return quantize_model(work.eval(), policy, scheme, inplace=True)
