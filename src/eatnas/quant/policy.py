"""Bit policies: which conv/linear layer of a model gets how many weight bits.

A policy is a plain mapping ``layer name -> bits`` covering every quantizable layer (``nn.Conv*`` and
``nn.Linear`` modules) of a model; ``32`` keeps a layer in float. Policies are usually built from
per-*unit* genes, where a unit is one layer (``granularity="layer"``) or a block/cell found by a name
prefix rule (``granularity="block"``); ``keep_float`` patterns (fnmatch on layer names) pin layers
to float whatever their unit's gene says.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from torch import nn

from eatnas.quant.errors import QuantError
from eatnas.quant.quantizers import FLOAT_BITS, check_bits

QUANTIZABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
GRANULARITIES = ("layer", "block")
# ``blocks.3.layers.0.pw`` -> ``blocks.3``; ``features.4.conv.1`` -> ``features.4``; ``layer2.1.conv1`` -> ``layer2.1``.
DEFAULT_UNIT_RULE = r"^(?:blocks|cells|features|stages|layer\d+)\.\d+"


def quantizable_layers(model: nn.Module) -> list[str]:
    """Names of the model's conv and linear modules, in registration order."""
    return [name for name, m in model.named_modules() if isinstance(m, QUANTIZABLE)]


def unit_of(layer: str, granularity: str, rule: str = DEFAULT_UNIT_RULE) -> str:
    """The unit a layer belongs to: itself, or the ``rule`` prefix match, else its first name component."""
    if granularity not in GRANULARITIES:
        raise QuantError(f"quant granularity {granularity!r} is unknown; choose one of {list(GRANULARITIES)}")
    if granularity == "layer":
        return layer
    m = re.match(rule, layer)
    return m.group(0) if m else layer.split(".")[0]


def units(layers: Sequence[str], granularity: str, rule: str = DEFAULT_UNIT_RULE) -> list[str]:
    """Distinct units of ``layers`` in first-appearance order."""
    out: dict[str, None] = {}
    for name in layers:
        out.setdefault(unit_of(name, granularity, rule), None)
    return list(out)


def is_kept_float(layer: str, keep_float: Sequence[str]) -> bool:
    """True when ``layer`` matches a ``keep_float`` pattern (exact name, fnmatch glob or name prefix)."""
    return any(layer == p or fnmatch.fnmatchcase(layer, p) or layer.startswith(p + ".") for p in keep_float)


@dataclass(frozen=True)
class PolicyRules:
    """How unit genes become a per-layer policy."""

    bits: tuple[int, ...] = (2, 4, 8, 16, 32)
    granularity: str = "layer"
    keep_float: tuple[str, ...] = ()
    unit_rule: str = DEFAULT_UNIT_RULE
    default_bits: int = FLOAT_BITS  # bits of layers whose unit has no gene

    def __post_init__(self) -> None:
        if not self.bits:
            raise QuantError("quant.bits is empty; list at least one bit-width, e.g. [4, 8, 16]")
        for b in self.bits:
            check_bits(b, where="quant.bits entry")
        check_bits(self.default_bits, where="default_bits")
        if self.granularity not in GRANULARITIES:
            raise QuantError(f"quant.granularity {self.granularity!r} is unknown; choose one of {list(GRANULARITIES)}")


def policy_from_units(layers: Sequence[str], unit_bits: Mapping[str, int], rules: PolicyRules) -> dict[str, int]:
    """Expand per-unit bits to a per-layer policy (``keep_float`` wins; missing units take ``default_bits``)."""
    policy = {}
    for name in layers:
        if is_kept_float(name, rules.keep_float):
            policy[name] = FLOAT_BITS
            continue
        u = unit_of(name, rules.granularity, rules.unit_rule)
        policy[name] = int(unit_bits.get(u, rules.default_bits))
    return policy


def uniform_policy(model: nn.Module, bits: int, keep_float: Sequence[str] = ()) -> dict[str, int]:
    """Every quantizable layer at ``bits`` except ``keep_float`` layers."""
    check_bits(bits)
    return {n: (FLOAT_BITS if is_kept_float(n, keep_float) else bits) for n in quantizable_layers(model)}


def validate_policy(model: nn.Module, policy: Mapping[str, int], allowed: Sequence[int] | None = None,
                    source: str = "policy") -> dict[str, int]:
    """Check that ``policy`` covers exactly the model's quantizable layers with valid bit-widths."""
    layers = quantizable_layers(model)
    known = set(layers)
    extra = [k for k in policy if k not in known]
    if extra:
        raise QuantError(f"{source}: layer {extra[0]!r} is not a conv/linear layer of the model "
                         f"(model has {len(layers)}, e.g. {layers[:3]}); remove it or use the policy of this model")
    missing = [k for k in layers if k not in policy]
    if missing:
        raise QuantError(f"{source}: no bit-width for layer {missing[0]!r} ({len(missing)} layers missing); "
                         "give every conv/linear layer a bit-width (32 = float)")
    allowed_t = tuple(allowed) if allowed is not None else None
    return {k: check_bits(policy[k], allowed_t, where=f"{source}[{k!r}]") for k in layers}


def average_bits(model: nn.Module, policy: Mapping[str, int]) -> float:
    """Parameter-weighted mean weight bit-width of the quantizable layers."""
    mods = dict(model.named_modules())
    total = sum(mods[n].weight.numel() for n in policy)
    return sum(policy[n] * mods[n].weight.numel() for n in policy) / max(total, 1)
