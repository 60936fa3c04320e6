"""Weight inheritance: initialise a child network from a parent's state dict, adapting shapes.

Rules (``docs/data-and-training.md``): a child tensor takes the parent tensor with the same key;
a child key ``blocks.B.layers.L.rest`` missing in the parent takes the parent's
``blocks.B.layers.min(L, Lp-1).rest`` (deeper = repeat the stage's last layer). Shapes are adapted
per dimension: channel dimensions copy the leading entries (wider: the remaining entries keep the
child's fresh initialisation; narrower: the parent's leading entries), the spatial dimensions of
conv kernels are aligned at the centre (larger: the parent kernel zero-padded into the centre;
smaller: centre-cropped). BN running statistics and ``num_batches_tracked`` follow the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import torch
from torch import nn

_LAYER_KEY = re.compile(r"^(?P<pre>(?:.*\.)?blocks\.(?P<b>\d+)\.layers\.)(?P<l>\d+)(?P<rest>\..+)$")


@dataclass
class InheritReport:
    """Child keys by outcome: copied as is, copied with a shape change or from another layer, left fresh."""

    inherited: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"inherited": len(self.inherited), "adapted": len(self.adapted), "initialised": len(self.initialised)}

    def __str__(self) -> str:
        c = self.counts()
        return f"{c['inherited']} inherited, {c['adapted']} adapted, {c['initialised']} initialised"


def parent_depths(keys: Iterable[str]) -> dict[str, int]:
    """Number of layers per stage prefix (``...blocks.B.layers.``) found among ``keys``."""
    depths: dict[str, int] = {}
    for k in keys:
        m = _LAYER_KEY.match(k)
        if m:
            depths[m["pre"]] = max(depths.get(m["pre"], 0), int(m["l"]) + 1)
    return depths


def source_key(key: str, parent_keys: Mapping[str, object], depths: Mapping[str, int]) -> tuple[str | None, bool]:
    """The parent key a child key inherits from, and whether it is a different layer (depth mapping)."""
    if key in parent_keys:
        return key, False
    m = _LAYER_KEY.match(key)
    if m and m["pre"] in depths:
        mapped = f"{m['pre']}{min(int(m['l']), depths[m['pre']] - 1)}{m['rest']}"
        if mapped in parent_keys:
            return mapped, True
    return None, False


def adapt(child: torch.Tensor, parent: torch.Tensor, spatial_from: int | None,
          zero_new_inputs: bool = True) -> torch.Tensor:
    """``child`` overwritten with ``parent`` where they overlap (leading channels, centred kernels).

    ``spatial_from`` is the first centre-aligned dimension (2 for conv kernels, ``None`` for none).
    With ``zero_new_inputs``, a weight (``ndim >= 2``) whose input dimension (1) grew from more than
    one channel gets zeros in the new input columns of its *inherited* output rows, so those outputs
    equal the parent's. (An input dimension of 1 is a depthwise kernel or a one-channel image input:
    there the new columns keep the child's initialisation.)
    """
    out = child.detach().clone()
    src, dst, pad_region = [], [], []
    for d, (c, p) in enumerate(zip(child.shape, parent.shape)):
        if spatial_from is not None and d >= spatial_from:
            n = min(c, p)
            src.append(slice((p - n) // 2, (p - n) // 2 + n))
            dst.append(slice((c - n) // 2, (c - n) // 2 + n))
            pad_region.append(slice(None))
        else:
            n = min(c, p)
            src.append(slice(0, n))
            dst.append(slice(0, n))
            pad_region.append(slice(0, n))
    if spatial_from is not None and any(c > p for c, p in zip(child.shape[spatial_from:], parent.shape[spatial_from:])):
        out[tuple(pad_region)] = 0  # a larger kernel: the ring around the copied kernel starts at zero
    if zero_new_inputs and child.dim() >= 2 and 1 < parent.shape[1] < child.shape[1]:
        rows = slice(0, min(child.shape[0], parent.shape[0]))
        out[rows, parent.shape[1]:] = 0
    out[tuple(dst)] = parent[tuple(src)].to(dtype=out.dtype, device=out.device)
    return out


def _conv_weights(model: nn.Module) -> set[str]:
    names = set()
    for mod_name, mod in model.named_modules():
        if isinstance(mod, nn.modules.conv._ConvNd):
            names.add(f"{mod_name}.weight" if mod_name else "weight")
    return names


def inherit_weights(child: nn.Module, parent_state: Mapping[str, torch.Tensor], *,
                    exclude: Iterable[str] = (), zero_new_inputs: bool = True) -> InheritReport:
    """Load what ``child`` can take from ``parent_state`` (in place) and report what happened per key.

    Keys starting with a prefix in ``exclude`` (e.g. ``classifier.`` across datasets) stay fresh.
    Tensors whose number of dimensions differs stay fresh. ``zero_new_inputs`` (default) zeroes
    the weights from new input channels into inherited output channels, so a widened child computes
    exactly the parent's function on the inherited channels; ``False`` keeps the child's fresh
    initialisation there too.
    """
    exclude = tuple(exclude)
    depths = parent_depths(parent_state)
    kernels = _conv_weights(child)
    state = child.state_dict()
    report = InheritReport()
    new_state = {}
    for key, value in state.items():
        src, moved = (None, False) if key.startswith(exclude) else source_key(key, parent_state, depths)
        if src is None or parent_state[src].dim() != value.dim():
            report.initialised.append(key)
            continue
        parent = parent_state[src]
        if parent.shape == value.shape:
            new_state[key] = parent.detach().to(dtype=value.dtype, device=value.device)
            (report.adapted if moved else report.inherited).append(key)
        else:
            new_state[key] = adapt(value, parent, 2 if key in kernels else None, zero_new_inputs)
            report.adapted.append(key)
    child.load_state_dict(new_state, strict=False)
    return report
