"""Moving weights across tasks: small-dataset weights into the large-dataset parent.

The trainer's ``inherit_weights`` adapts depth, width and kernel between architectures of one
task. Across tasks two ends of the network change as well, and are handled here first:

* classifier: re-initialised (dropped from the state) when the class count differs, kept otherwise;
* stem: when the number of input channels differs, the first convolution's kernel is summed
  over the old input channels and spread evenly over the new ones (grey <-> RGB), so that a
  constant image gives the same response;
* a shortcut branch that is new in the child (skip switched on) starts silenced
  (:func:`silence_new_shortcuts`, ``transfer.silence_new_shortcuts``).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import nn

CLASSIFIER_PREFIX = "classifier."
STEM_PREFIX = "stem."


def adapt_across_tasks(state: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], *,
                       source_classes: int, target_classes: int,
                       source_channels: int, target_channels: int) -> dict[str, torch.Tensor]:
    """A copy of ``state`` ready for ``inherit_weights`` into a model whose state is ``target``."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.startswith(CLASSIFIER_PREFIX) and source_classes != target_classes:
            continue
        if (name.startswith(STEM_PREFIX) and source_channels != target_channels and tensor.dim() == 4
                and tensor.shape[1] == source_channels and name in target
                and target[name].dim() == 4 and target[name].shape[1] == target_channels):
            summed = tensor.sum(dim=1, keepdim=True)
            tensor = summed.repeat(1, target_channels, 1, 1) / target_channels
        out[name] = tensor.detach().clone()
    return out


def silence_new_shortcuts(model: nn.Module, initialised: Iterable[str]) -> list[str]:
    """Zero the BN scale and shift of every freshly initialised shortcut branch (a skip switched on).

    A new projection shortcut then adds nothing at first, so the child starts computing what its
    inherited body computes instead of adding a random signal (function preservation, as in
    Net2Net). Returns the BN modules silenced.
    """
    fresh = set(initialised)
    silenced = []
    for name, module in model.named_modules():
        if (isinstance(module, nn.modules.batchnorm._BatchNorm) and ".shortcut" in f".{name}"
                and f"{name}.weight" in fresh and module.affine):
            with torch.no_grad():
                module.weight.zero_()
                module.bias.zero_()
            silenced.append(name)
    return silenced
