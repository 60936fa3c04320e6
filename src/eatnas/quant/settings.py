"""``QuantSettings``: the ``quant`` config section as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from eatnas.errors import ConfigError
from eatnas.quant.policy import GRANULARITIES, PolicyRules
from eatnas.quant.quantizers import SCHEMES, check_bits
from eatnas.quant.size import SIZE_FORMATS, check_target


@dataclass(frozen=True)
class QuantSettings:
    """Bit set, grouping, quantizer scheme, size format, JASQ fitness constants and the search budget.

    ``search`` is the ``$defs/search`` mapping (strategy, population, sample, removal, evaluations, ...);
    its ``fitness`` sub-section is ignored: quantization searches always use the JASQ fitness on
    ``size_mb`` with ``target_mb``, ``alpha`` and ``beta`` from here.
    """

    bits: tuple[int, ...] = (2, 4, 8, 16, 32)
    granularity: str = "layer"
    scheme: str = "per_channel"
    size_format: str = "packed"
    target_mb: float | None = None
    alpha: float = -0.07
    beta: float = -0.07
    finetune_epochs: float = 0.0
    keep_float: tuple[str, ...] = ()
    act_bits: int | None = None
    net_epochs: float = 2.0
    joint_epochs: float = 2.0
    joint_child_epochs: float | None = None
    joint_granularity: str = "block"
    search: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for b in self.bits:
            check_bits(b, where="quant.bits entry")
        if self.granularity not in GRANULARITIES:
            raise ConfigError(f"quant.granularity {self.granularity!r} is unknown; choose one of {list(GRANULARITIES)}")
        if self.joint_granularity not in GRANULARITIES:
            raise ConfigError(f"quant.joint_granularity {self.joint_granularity!r} is unknown; "
                              f"choose one of {list(GRANULARITIES)}")
        if self.scheme not in SCHEMES:
            raise ConfigError(f"quant.scheme {self.scheme!r} is unknown; choose one of {list(SCHEMES)}")
        if self.size_format not in SIZE_FORMATS:
            raise ConfigError(f"quant.size_format {self.size_format!r} is unknown; choose one of {list(SIZE_FORMATS)}")
        check_target(self.target_mb)
        if self.act_bits is not None:
            check_bits(self.act_bits, where="quant.act_bits")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "QuantSettings":
        data = dict(section or {})
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key 'quant.{unknown[0]}'; known: {', '.join(sorted(known))}")
        for key in ("bits", "keep_float"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    @property
    def rules(self) -> PolicyRules:
        return PolicyRules(self.bits, self.granularity, self.keep_float)
