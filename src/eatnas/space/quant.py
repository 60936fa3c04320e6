"""Quantization genes as search spaces.

* :class:`QuantSpace` wraps a base space: architecture = ``QuantArch(base, bits)`` with one bit-width
  per quantizable *unit* (``granularity="block"``: stem, each block/cell, head, classifier by the name
  prefix rule of :mod:`eatnas.quant.policy`; ``"layer"``: each conv/linear layer, only for base spaces
  whose layer names do not depend on the architecture). Tokens = base tokens + one bit token per unit
  (index into ``bits``). String: ``<base string>@b:<bits of unit 0>,<bits of unit 1>,...``, e.g.
  ``sep_k3_l1_w0.5_s0-...@b:8,4,4,16,4,4,8,8,8,32``.
  ``uniform_moves=True`` adds one mutation per bit-width that sets every unit to it (position = the number
  of tokens; JASQ's own mutation changes several genes at once), so a search can move a network's size
  in one step instead of one unit at a time. ``fixed_base`` freezes the architecture (samples and
  mutations then change bit genes only): a bit-policy search with the joint search's machinery.
* :class:`PolicySpace` is a fixed trained network: architecture = bits per unit (``b:8,4,...``);
  ``build`` returns the post-training-quantized copy of the network.

Both report sizes through ``size_mb`` (packed bits, :mod:`eatnas.quant.size`).
"""

from __future__ import annotations

import copy
import random
from typing import Any, ClassVar, Mapping, NamedTuple, Sequence

from torch import nn

from eatnas.errors import ArchStringError, ConfigError, EatnasError
from eatnas.quant.apply import quantize_model
from eatnas.quant.policy import DEFAULT_UNIT_RULE, PolicyRules, policy_from_units, quantizable_layers, units
from eatnas.quant.size import model_size
from eatnas.space.base import SPACES, Action, Arch, BuildSpec, Cost, SearchSpace, get_space

SEP = "@b:"
_REFERENCE_SAMPLES = 4


class QuantArch(NamedTuple):
    """A base architecture plus one bit-width per quantizable unit."""

    base: Arch
    bits: tuple[int, ...]


def _parse_bits(text: str, offset: int, count: int, allowed: Sequence[int]) -> tuple[int, ...]:
    """Parse ``8,4,16`` (``count`` entries in ``allowed``); errors carry the character position."""
    parts = text.split(",") if text else []
    if len(parts) != count:
        raise ArchStringError(f"found {len(parts)} bit-widths after {SEP!r}, expected {count} (one per unit)",
                              offset + len(text))
    out, pos = [], offset
    for i, p in enumerate(parts):
        if not p.isdigit() or int(p) not in allowed:
            raise ArchStringError(f"bit-width {i} is {p!r}; use one of {list(allowed)}", pos)
        out.append(int(p))
        pos += len(p) + 1
    return tuple(out)


class _BitGenes:
    """Shared bit-gene handling for both spaces (bits set, units, policy expansion)."""

    rules: PolicyRules
    unit_names: tuple[str, ...]

    def _init_rules(self, bits: Sequence[int], granularity: str, keep_float: Sequence[str], unit_rule: str) -> None:
        self.rules = PolicyRules(tuple(int(b) for b in bits), granularity, tuple(keep_float), unit_rule)
        self.bits = self.rules.bits
        self._bit_index = {b: i for i, b in enumerate(self.bits)}

    def bit_tokens(self, bits: Sequence[int]) -> tuple[int, ...]:
        if len(bits) != len(self.unit_names):
            raise ValueError(f"expected {len(self.unit_names)} bit-widths (units {list(self.unit_names)}), got {len(bits)}")
        out = []
        for i, b in enumerate(bits):
            if b not in self._bit_index:
                raise ValueError(f"unit {i} ({self.unit_names[i]}) has bits={b!r}; use one of {list(self.bits)}")
            out.append(self._bit_index[b])
        return tuple(out)

    def bits_from_tokens(self, tokens: Sequence[int], first: int = 0) -> tuple[int, ...]:
        out = []
        for i, t in enumerate(tokens):
            if not (isinstance(t, int) and 0 <= t < len(self.bits)):
                raise ValueError(f"token {first + i} (bits of {self.unit_names[i]}) is {t!r}; must be in 0..{len(self.bits) - 1}")
            out.append(self.bits[t])
        return tuple(out)

    def policy_for(self, model: nn.Module, bits: Sequence[int]) -> dict[str, int]:
        """The per-layer policy of ``model`` for unit bit-widths ``bits``."""
        layers = quantizable_layers(model)
        unknown = [u for u in units(layers, self.rules.granularity, self.rules.unit_rule) if u not in self.unit_names]
        if unknown:
            raise ConfigError(f"quant unit {unknown[0]!r} of this network has no bit gene (genes: {list(self.unit_names)}); "
                              "use block granularity (quant.joint_granularity / quant.granularity: block) for "
                              "spaces whose layers depend on the architecture")
        return policy_from_units(layers, dict(zip(self.unit_names, bits)), self.rules)


@SPACES.register("quant")
class QuantSpace(_BitGenes, SearchSpace):
    """Joint architecture + bit-width genes over a base space."""

    name = "quant"
    presets: ClassVar[dict[str, str]] = {}

    def __init__(self, base: str | SearchSpace = "block", bits: Sequence[int] = (2, 4, 8, 16, 32),
                 granularity: str = "block", keep_float: Sequence[str] = (), unit_rule: str = DEFAULT_UNIT_RULE,
                 base_options: Mapping[str, Any] | None = None, unit_names: Sequence[str] | None = None,
                 seed: int = 0, uniform_moves: bool = False, fixed_base: Arch | None = None) -> None:
        self.base = get_space(base, **dict(base_options or {})) if isinstance(base, str) else base
        self.fixed_base = fixed_base
        if fixed_base is not None:
            self.base.validate(fixed_base)
        # uniform_moves: one extra mutation per bit-width, "set every unit to b" (position = number of tokens)
        self.uniform_moves = bool(uniform_moves)
        self._init_rules(bits, granularity, keep_float, unit_rule)
        self.unit_names = tuple(unit_names) if unit_names else self._discover_units(seed)
        self._nb = len(self.base.vocab_sizes())

    def _discover_units(self, seed: int) -> tuple[str, ...]:
        """Units seen in networks of the base space's presets and a few seeded samples, in order of appearance.

        (Pass ``unit_names`` to skip this when the units are known.)
        """
        rng = random.Random(seed)
        archs = []
        for p in self.base.presets:
            try:
                archs.append(self.base.preset(p))
            except EatnasError:  # a preset outside a restricted space
                continue
        archs += [self.base.sample(rng) for _ in range(_REFERENCE_SAMPLES)]
        spec = BuildSpec(num_classes=2, input_size=8, in_channels=1)
        found: dict[str, None] = {}
        for a in archs:
            try:
                model = self.base.build(a, spec)
            except (ValueError, EatnasError):
                continue
            for u in units(quantizable_layers(model), self.rules.granularity, self.rules.unit_rule):
                found.setdefault(u, None)
        if not found:
            raise ConfigError(f"quant space: base space {self.base.name!r} built no network with conv/linear layers")
        return tuple(found)

    # --- representation ----------------------------------------------------------------------
    def vocab_sizes(self) -> tuple[int, ...]:
        return self.base.vocab_sizes() + (len(self.bits),) * len(self.unit_names)

    def position_names(self) -> tuple[str, ...]:
        return self.base.position_names() + tuple(f"bits.{u}" for u in self.unit_names)

    def action_name(self, position: int) -> str:
        """Token positions by name; the uniform move (one past the last token) is ``bits.all``."""
        return "bits.all" if self.uniform_moves and position == len(self.vocab_sizes()) else super().action_name(position)

    def tokens(self, arch: QuantArch) -> tuple[int, ...]:
        return self.base.tokens(arch.base) + self.bit_tokens(arch.bits)

    def from_tokens(self, tokens: Sequence[int]) -> QuantArch:
        tokens = tuple(tokens)
        if len(tokens) != len(self.vocab_sizes()):
            raise ValueError(f"expected {len(self.vocab_sizes())} tokens, got {len(tokens)}")
        return QuantArch(self.base.from_tokens(tokens[: self._nb]), self.bits_from_tokens(tokens[self._nb:], self._nb))

    def encode(self, arch: QuantArch) -> str:
        return f"{self.base.encode(arch.base)}{SEP}{','.join(map(str, arch.bits))}"

    def decode(self, text: str) -> QuantArch:
        if not isinstance(text, str):
            raise ArchStringError(f"expected a string, got {type(text).__name__}", 0)
        cut = text.rfind(SEP)
        if cut < 0:
            raise ArchStringError(f"missing {SEP!r}: write '<architecture>{SEP}<bits per unit>' "
                                  f"with {len(self.unit_names)} bit-widths", len(text))
        base = self.base.decode(text[:cut])
        return QuantArch(base, _parse_bits(text[cut + len(SEP):], cut + len(SEP), len(self.unit_names), self.bits))

    def canonical_key(self, arch: QuantArch) -> str:
        return f"{self.base.canonical_key(arch.base)}{SEP}{','.join(map(str, arch.bits))}"

    # --- sampling and mutation ---------------------------------------------------------------
    def sample(self, rng: random.Random) -> QuantArch:
        base = self.fixed_base if self.fixed_base is not None else self.base.sample(rng)
        return QuantArch(base, tuple(rng.choice(self.bits) for _ in self.unit_names))

    def actions(self, arch: QuantArch) -> list[Action]:
        out = [] if self.fixed_base is not None else list(self.base.actions(arch.base))
        for i, t in enumerate(self.bit_tokens(arch.bits)):
            out += [Action(self._nb + i, v) for v in range(len(self.bits)) if v != t]
        if self.uniform_moves:
            out += [Action(self._nb + len(self.unit_names), v) for v, b in enumerate(self.bits)
                    if any(x != b for x in arch.bits)]
        return out

    def apply(self, arch: QuantArch, action: Action) -> QuantArch:
        if action.position < self._nb:
            return QuantArch(self.base.apply(arch.base, action), arch.bits)
        i = action.position - self._nb
        if self.uniform_moves and i == len(self.unit_names) and 0 <= action.value < len(self.bits):
            new = (self.bits[action.value],) * len(self.unit_names)
            if new == arch.bits:
                raise ValueError(f"action {action} does not change the architecture")
            return QuantArch(arch.base, new)
        if not (0 <= i < len(self.unit_names) and 0 <= action.value < len(self.bits)):
            raise ValueError(f"action {action} is out of range for the quant space")
        new = self.bits[action.value]
        if arch.bits[i] == new:
            raise ValueError(f"action {action} does not change the architecture")
        return QuantArch(arch.base, arch.bits[:i] + (new,) + arch.bits[i + 1:])

    def with_bits(self, base: Arch, bits: int | Sequence[int]) -> QuantArch:
        """``base`` with the given per-unit bits (an int = uniform)."""
        seq = (bits,) * len(self.unit_names) if isinstance(bits, int) else tuple(bits)
        self.bit_tokens(seq)
        return QuantArch(base, seq)

    # --- building and cost -------------------------------------------------------------------
    def build(self, arch: QuantArch, spec: BuildSpec) -> nn.Module:
        """The float base network (train it, then apply :meth:`policy`)."""
        return self.base.build(arch.base, spec)

    def cost(self, arch: QuantArch, spec: BuildSpec) -> Cost:
        return self.base.cost(arch.base, spec)

    def policy(self, arch: QuantArch, model: nn.Module) -> dict[str, int]:
        """Per-layer policy of a network built from ``arch``."""
        return self.policy_for(model, arch.bits)

    def size_mb(self, arch: QuantArch, spec: BuildSpec, scheme: str = "per_channel") -> float:
        """Packed size (MB) of the network quantized by its bit genes."""
        model = self.build(arch, spec)
        return model_size(model, self.policy(arch, model), scheme).mb

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base": self.base.describe(), "bits": list(self.bits),
                "granularity": self.rules.granularity, "units": list(self.unit_names),
                "keep_float": list(self.rules.keep_float)}


@SPACES.register("policy")
class PolicySpace(_BitGenes, SearchSpace):
    """Bit policies of one fixed (trained) network: architecture = bits per unit."""

    name = "policy"
    presets: ClassVar[dict[str, str]] = {}
    test_resolutions: ClassVar[tuple[int, ...]] = (32,)

    @classmethod
    def test_instance(cls) -> "PolicySpace":
        """A small fixed CNN (3-channel 32x32 inputs, 10 classes) for the shared space tests."""
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                            nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                            nn.Flatten(), nn.Linear(8, 10))
        return cls(net, bits=(2, 4, 8, 32))

    def __init__(self, model: nn.Module, bits: Sequence[int] = (2, 4, 8, 16, 32), granularity: str = "layer",
                 keep_float: Sequence[str] = (), unit_rule: str = DEFAULT_UNIT_RULE,
                 scheme: str = "per_channel") -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(f"policy space needs the trained nn.Module, got {type(model).__name__}")
        self._init_rules(bits, granularity, keep_float, unit_rule)
        self.model = model.eval()
        self.scheme = scheme
        self.layers = tuple(quantizable_layers(model))
        if not self.layers:
            raise ConfigError("policy space: the network has no conv/linear layers to quantize")
        self.unit_names = tuple(units(self.layers, granularity, unit_rule))

    def vocab_sizes(self) -> tuple[int, ...]:
        return (len(self.bits),) * len(self.unit_names)

    def position_names(self) -> tuple[str, ...]:
        return tuple(f"bits.{u}" for u in self.unit_names)

    def tokens(self, arch: tuple[int, ...]) -> tuple[int, ...]:
        return self.bit_tokens(arch)

    def from_tokens(self, tokens: Sequence[int]) -> tuple[int, ...]:
        if len(tokens) != len(self.unit_names):
            raise ValueError(f"expected {len(self.unit_names)} tokens, got {len(tokens)}")
        return self.bits_from_tokens(tokens)

    def encode(self, arch: tuple[int, ...]) -> str:
        return "b:" + ",".join(map(str, arch))

    def decode(self, text: str) -> tuple[int, ...]:
        if not isinstance(text, str) or not text.startswith("b:"):
            raise ArchStringError(f"a bit policy is written 'b:<bits>,<bits>,...' with {len(self.unit_names)} entries", 0)
        return _parse_bits(text[2:], 2, len(self.unit_names), self.bits)

    def sample(self, rng: random.Random) -> tuple[int, ...]:
        return tuple(rng.choice(self.bits) for _ in self.unit_names)

    def uniform(self, bits: int) -> tuple[int, ...]:
        arch = (int(bits),) * len(self.unit_names)
        self.bit_tokens(arch)
        return arch

    def policy(self, arch: Sequence[int], model: nn.Module | None = None) -> dict[str, int]:
        return self.policy_for(model if model is not None else self.model, arch)

    def build(self, arch: tuple[int, ...], spec: BuildSpec | None = None) -> nn.Module:
        """A post-training-quantized copy of the fixed network (``spec`` is the network's own)."""
        return quantize_model(copy.deepcopy(self.model), self.policy(arch), self.scheme, inplace=True)

    def cost(self, arch: tuple[int, ...], spec: BuildSpec | None = None) -> Cost:
        from eatnas.train.macs import count_macs

        params = sum(p.numel() for p in self.model.parameters())
        shape = (spec.in_channels, spec.input_size, spec.input_size) if spec is not None else None
        return Cost(params, count_macs(self.model, shape) if shape else 0)

    def size_mb(self, arch: tuple[int, ...], fmt: str = "packed") -> float:
        return model_size(self.model, self.policy(arch), self.scheme, fmt).mb

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "bits": list(self.bits), "granularity": self.rules.granularity,
                "units": list(self.unit_names), "keep_float": list(self.rules.keep_float), "scheme": self.scheme}
