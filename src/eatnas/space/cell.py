"""RENAS NASNet-style cell space (papers.md 3.2): B=5 blocks of two (op, input) pairs per cell.

Token view: per cell genotype 10 pairs x (op, input) = 20 tokens, ordered ``op, input`` per pair
(40 tokens, normal then reduction, when ``shared=False``). Op tokens have 8 values; the input
token of a pair in block ``b`` (1-based) has ``b + 1`` values (0 = h0, 1 = h1, 2.. = earlier block
outputs), so every in-range token tuple is a valid cell; ``from_tokens`` raises ``ValueError`` for
out-of-range values. The string grammar and the template rule are documented in docs/space-cell.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Sequence

from eatnas.errors import ArchStringError, EatnasError
from eatnas.models.cell_net import (
    NUM_BLOCKS,
    TEMPLATES,
    CellTemplate,
    Genotype,
    build_cell_network,
    cell_network_cost,
    check_genotype,
)
from eatnas.models.cell_ops import NUM_OPS, OP_NAMES
from eatnas.space.base import SPACES, BuildSpec, Cost, SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

NUM_PAIRS = 2 * NUM_BLOCKS
TOKENS_PER_CELL = 2 * NUM_PAIRS
# options of the block space's config section that the cell space ignores
_FOREIGN_OPTIONS = frozenset(
    {"name", "width_multiplier", "skip_mode", "stem_stride", "head_channels", "ops", "sepconv_skip"}
)
# template defaults: (filters, cells_per_stage)
_DEFAULTS = {"cifar": (12, 1), "imagenet": (44, 4)}
IMAGENET_STEM = 32


@dataclass(frozen=True)
class CellArch:
    """A cell-space architecture; ``reduction is None`` means one genotype shared by both cell types."""

    normal: Genotype
    reduction: Optional[Genotype] = None

    @property
    def reduction_cell(self) -> Genotype:
        return self.normal if self.reduction is None else self.reduction


def format_cell(genotype: Genotype) -> str:
    """``op~in,op~in|...`` for the 5 blocks of one genotype."""
    return "|".join(
        ",".join(f"{OP_NAMES[op]}~{inp}" for op, inp in genotype[2 * b : 2 * b + 2]) for b in range(NUM_BLOCKS)
    )


def parse_cell(text: str, offset: int = 0) -> Genotype:
    """Parse one cell string; positions in errors are ``offset`` + index into ``text``."""
    blocks = text.split("|")
    if len(blocks) != NUM_BLOCKS:
        raise ArchStringError(f"a cell needs {NUM_BLOCKS} '|'-separated blocks, got {len(blocks)}", offset)
    pairs: list[tuple[int, int]] = []
    pos = offset
    for b, block in enumerate(blocks):
        items = block.split(",")
        if len(items) != 2:
            raise ArchStringError(f"block {b + 1} needs 2 ','-separated op~input pairs, got {len(items)}", pos)
        for item in items:
            name, sep, num = item.partition("~")
            if not sep:
                raise ArchStringError(f"block {b + 1}: expected op~input, got {item!r}", pos)
            if name not in OP_NAMES:
                raise ArchStringError(f"block {b + 1}: unknown op {name!r}; known: {', '.join(OP_NAMES)}", pos)
            in_pos = pos + len(name) + 1
            if not num.isdigit() or not num.isascii() or (len(num) > 1 and num[0] == "0"):
                raise ArchStringError(f"block {b + 1}: input {num!r} is not a non-negative integer", in_pos)
            inp = int(num)
            if inp >= b + 2:
                raise ArchStringError(
                    f"block {b + 1}: input {inp} not available (0 = h0, 1 = h1, 2.. = earlier blocks; max {b + 1})",
                    in_pos,
                )
            pairs.append((OP_NAMES.index(name), inp))
            pos += len(item) + 1
    return tuple(pairs)


def _positive(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EatnasError(f"cell space option {key} must be a positive integer, got {value!r}")
    return value


@SPACES.register("cell")
class CellSpace(SearchSpace):
    """RENAS cell space; networks built by :mod:`eatnas.models.cell_net`.

    Options: ``shared`` (one genotype for normal and reduction cells, default True);
    ``template`` ``auto`` | ``cifar`` | ``imagenet`` (``auto``: ``imagenet`` when the input is at
    least ``imagenet_min_input`` px, else ``cifar``); ``filters`` / ``cells_per_stage`` (default
    per template: cifar 12 / 1, imagenet 44 / 4); ``stem_multiplier`` (cifar stem = multiplier x F,
    default 3); ``stem_channels`` (overrides the stem width; imagenet default 32); ``dropout``.
    """

    name: ClassVar[str] = "cell"
    test_resolutions: ClassVar[tuple[int, ...]] = (8, 28, 32)
    presets: ClassVar[dict[str, str]] = {
        "renasnet": "sep5~0,sep3~1|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2",
    }

    def __init__(
        self,
        shared: bool = True,
        template: str = "auto",
        filters: Optional[int] = None,
        cells_per_stage: Optional[int] = None,
        stem_multiplier: int = 3,
        stem_channels: Optional[int] = None,
        dropout: float = 0.0,
        imagenet_min_input: int = 128,
        **foreign: Any,
    ) -> None:
        unknown = sorted(set(foreign) - _FOREIGN_OPTIONS)
        if unknown:
            raise EatnasError(f"cell space: unknown option(s) {unknown}")
        if not isinstance(shared, bool):
            raise EatnasError(f"cell space option shared must be true or false, got {shared!r}")
        if template not in ("auto",) + TEMPLATES:
            raise EatnasError(f"cell space option template must be one of auto, cifar, imagenet; got {template!r}")
        self.shared = shared
        self.template = template
        self.filters = None if filters is None else _positive("filters", filters)
        self.cells_per_stage = None if cells_per_stage is None else _positive("cells_per_stage", cells_per_stage)
        self.stem_multiplier = _positive("stem_multiplier", stem_multiplier)
        self.stem_channels = None if stem_channels is None else _positive("stem_channels", stem_channels)
        self.dropout = float(dropout)
        self.imagenet_min_input = _positive("imagenet_min_input", imagenet_min_input)
        for size in (1, self.imagenet_min_input):  # validate the option combination for both templates
            self.network_template(BuildSpec(input_size=size))

    @classmethod
    def test_instance(cls) -> "CellSpace":
        """A tiny instance (F=4, N=1) for the shared space test suite."""
        return cls(filters=4, cells_per_stage=1)

    # --- representation ---------------------------------------------------------------------
    def _cells(self) -> int:
        return 1 if self.shared else 2

    def vocab_sizes(self) -> tuple[int, ...]:
        per_cell = tuple(v for k in range(NUM_PAIRS) for v in (NUM_OPS, k // 2 + 2))
        return per_cell * self._cells()

    def position_names(self) -> tuple[str, ...]:
        names = []
        for prefix in ("",) if self.shared else ("n.", "r."):
            for k in range(NUM_PAIRS):
                side = "l" if k % 2 == 0 else "r"
                names += [f"{prefix}b{k // 2 + 1}.{side}.op", f"{prefix}b{k // 2 + 1}.{side}.in"]
        return tuple(names)

    def tokens(self, arch: CellArch) -> tuple[int, ...]:
        cells = (arch.normal,) if self.shared else (arch.normal, arch.reduction_cell)
        return tuple(v for g in cells for pair in g for v in pair)

    def from_tokens(self, tokens: Sequence[int]) -> CellArch:
        toks = tuple(tokens)
        if len(toks) != TOKENS_PER_CELL * self._cells():
            raise ValueError(f"cell space expects {TOKENS_PER_CELL * self._cells()} tokens, got {len(toks)}")
        genos = [
            check_genotype(
                [toks[i : i + 2] for i in range(c * TOKENS_PER_CELL, (c + 1) * TOKENS_PER_CELL, 2)],
                ("normal", "reduction")[c] if not self.shared else "genotype",
            )
            for c in range(self._cells())
        ]
        return CellArch(genos[0], None if self.shared else genos[1])

    def validate(self, arch: CellArch) -> None:
        if not isinstance(arch, CellArch):
            raise ValueError(f"not a cell-space architecture: {arch!r}")
        if self.shared != (arch.reduction is None):
            raise ValueError(f"architecture {'has' if arch.reduction is not None else 'lacks'} a separate "
                             f"reduction genotype but the space has shared={self.shared}")
        if self.from_tokens(self.tokens(arch)) != arch:
            raise ValueError(f"malformed cell-space architecture (genotypes must be tuples of int pairs): {arch!r}")

    def encode(self, arch: CellArch) -> str:
        self.validate(arch)
        if self.shared:
            return format_cell(arch.normal)
        return f"n:{format_cell(arch.normal)};r:{format_cell(arch.reduction_cell)}"

    def decode(self, text: str) -> CellArch:
        if not isinstance(text, str):
            raise ArchStringError(f"expected a string, got {type(text).__name__}")
        if not text:
            raise ArchStringError("empty string", 0)
        if text.startswith("n:"):
            sep = text.find(";r:")
            if sep < 0:
                raise ArchStringError("expected ';r:' after the normal cell in the n:...;r:... form", len(text))
            normal = parse_cell(text[2:sep], 2)
            reduction = parse_cell(text[sep + 3 :], sep + 3)
            if self.shared:
                if normal != reduction:
                    raise ArchStringError(
                        "normal and reduction cells differ but the space shares one genotype (shared=true)", sep
                    )
                return CellArch(normal)
            return CellArch(normal, reduction)
        normal = parse_cell(text, 0)
        return CellArch(normal, None if self.shared else normal)

    def canonical_key(self, arch: CellArch) -> str:
        """Like :meth:`encode`, with the two (op, input) pairs of every block sorted (addition commutes)."""
        self.validate(arch)

        def canon(g: Genotype) -> Genotype:
            return tuple(p for b in range(NUM_BLOCKS) for p in sorted(g[2 * b : 2 * b + 2]))

        if self.shared:
            return format_cell(canon(arch.normal))
        return f"n:{format_cell(canon(arch.normal))};r:{format_cell(canon(arch.reduction_cell))}"

    # --- building and cost ------------------------------------------------------------------
    def network_template(self, spec: BuildSpec) -> CellTemplate:
        """The network skeleton used for ``spec`` (template chosen by input size when ``auto``)."""
        kind = self.template
        if kind == "auto":
            kind = "imagenet" if spec.input_size >= self.imagenet_min_input else "cifar"
        filters = self.filters or _DEFAULTS[kind][0]
        cells = self.cells_per_stage or _DEFAULTS[kind][1]
        if self.stem_channels is not None:
            stem = self.stem_channels
        else:
            stem = IMAGENET_STEM if kind == "imagenet" else self.stem_multiplier * filters
        return CellTemplate(kind=kind, filters=filters, cells_per_stage=cells, stem_channels=stem,
                            dropout=self.dropout)

    def build(self, arch: CellArch, spec: BuildSpec) -> "nn.Module":
        self.validate(arch)
        return build_cell_network(arch.normal, arch.reduction_cell, self.network_template(spec),
                                  spec.num_classes, spec.input_size, spec.in_channels)

    def cost(self, arch: CellArch, spec: BuildSpec) -> Cost:
        self.validate(arch)
        return cell_network_cost(arch.normal, arch.reduction_cell, self.network_template(spec),
                                 spec.num_classes, spec.input_size, spec.in_channels)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(shared=self.shared, template=self.template, filters=self.filters,
                   cells_per_stage=self.cells_per_stage, stem_multiplier=self.stem_multiplier,
                   stem_channels=self.stem_channels, dropout=self.dropout,
                   imagenet_min_input=self.imagenet_min_input)
        return out
