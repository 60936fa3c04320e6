"""The EAT-NAS block space: 7 MobileNetV2-style blocks, each (op, kernel, skip, layers, width).

Canonical string (see ``docs/space-block.md``): 7 blocks joined by ``-``, each
``<op>_k<kernel>_l<layers>_w<width>_s<skip>``, e.g. ``mb6_k3_l2_w1.5_s1``. Token view: 5 tokens
per block in the order (op, kernel, skip, layers, width) = 35 positions. An architecture is a
tuple of 7 :class:`BlockGene` named tuples (immutable, hashable).

``decode`` accepts every *registered* operation (``eatnas.models.block_net.OPS``), e.g. ``mb1``
used by the ``mobilenetv2`` preset; such an architecture builds and costs, but only architectures
whose ops are in the searched set ``ops`` have a token view (``tokens`` raises ``ValueError``).
"""

from __future__ import annotations

import operator
import random
import re
from typing import Any, ClassVar, Sequence

from eatnas.errors import ArchStringError, ConfigError
from eatnas.models.block_net import OPS, BlockGene, BlockNet, NetOptions, NetPlan, plan_cost, plan_network
from eatnas.space.base import SPACES, Action, BuildSpec, Cost, SearchSpace

BlockArch = tuple[BlockGene, ...]
FIELDS = ("op", "kernel", "skip", "layers", "width")
_OP_NAME = re.compile(r"^[a-z][a-z0-9]*$")
_EXAMPLE = "mb6_k3_l2_w1_s1"


def _num_label(x: float) -> str:
    """Shortest exact label of a number: 1.0 -> '1', 0.5 -> '0.5'."""
    return f"{x:g}"


@SPACES.register("block")
class BlockSpace(SearchSpace):
    """EAT-NAS MobileNetV2-style block space (paper code ``symbol_eatnas_search.py``)."""

    name = "block"
    presets: ClassVar[dict[str, str]] = {
        # torchvision mobilenet_v2 (t=1 first block), built with preset_options below
        "mobilenetv2": "mb1_k3_l1_w1_s1-mb6_k3_l2_w1_s1-mb6_k3_l3_w1_s1-mb6_k3_l4_w1_s1"
                       "-mb6_k3_l3_w1_s1-mb6_k3_l3_w1_s1-mb6_k3_l1_w1_s1",
        # the nearest MobileNetV2 inside the default searched set (mb3 replaces t=1)
        "mbv2_like": "mb3_k3_l1_w1_s1-mb6_k3_l2_w1_s1-mb6_k3_l3_w1_s1-mb6_k3_l4_w1_s1"
                     "-mb6_k3_l3_w1_s1-mb6_k3_l3_w1_s1-mb6_k3_l1_w1_s1",
        # the cheapest architecture of the default space
        "tiny": "-".join(["sep_k3_l1_w0.5_s0"] * 7),
    }
    # space options a preset needs to reproduce its reference network (the CLI applies them)
    preset_options: ClassVar[dict[str, dict[str, Any]]] = {"mobilenetv2": {"skip_mode": "mobilenetv2"}}
    test_resolutions: ClassVar[tuple[int, ...]] = (8, 28, 32)

    def __init__(self, width_multiplier: float = 1.0, skip_mode: str = "projection", stem_stride: int | None = None,
                 head_channels: int = 1280, dropout: float = 0.0, ops: Sequence[str] = ("sep", "mb3", "mb6"),
                 kernels: Sequence[int] = (3, 5, 7), layers: Sequence[int] = (1, 2, 3, 4),
                 widths: Sequence[float] = (0.5, 1.0, 1.5, 2.0), sepconv_skip: bool = True) -> None:
        self.options = NetOptions(width_multiplier=float(width_multiplier), skip_mode=skip_mode,
                                  stem_stride=stem_stride, head_channels=int(head_channels),
                                  dropout=float(dropout), sepconv_skip=bool(sepconv_skip))
        self.ops = self._choices("ops", ops, lambda o: isinstance(o, str) and o in OPS and bool(_OP_NAME.match(o)),
                                 f"a registered operation ({', '.join(OPS.names())})")
        self.kernels = self._choices("kernels", kernels, lambda k: isinstance(k, int) and k > 0 and k % 2 == 1,
                                     "an odd positive integer")
        self.layers = self._choices("layers", layers, lambda n: isinstance(n, int) and n > 0, "a positive integer")
        self.widths = tuple(float(w) for w in self._choices(
            "widths", widths, lambda w: isinstance(w, (int, float)) and w > 0, "a positive number"))
        self.num_blocks = len(self.options.base_channels)
        self._labels = {"kernel": {f"{k}": k for k in self.kernels}, "layers": {f"{n}": n for n in self.layers},
                        "width": {_num_label(w): w for w in self.widths}, "skip": {"0": 0, "1": 1}}
        self._index = {"op": {o: i for i, o in enumerate(self.ops)},
                       "kernel": {k: i for i, k in enumerate(self.kernels)},
                       "skip": {0: 0, 1: 1},
                       "layers": {n: i for i, n in enumerate(self.layers)},
                       "width": {w: i for i, w in enumerate(self.widths)}}
        self._values = (self.ops, self.kernels, (0, 1), self.layers, self.widths)
        self._vocab = tuple(len(v) for v in self._values) * self.num_blocks
        self._actions_at = tuple(tuple(Action(p, v) for v in range(n)) for p, n in enumerate(self._vocab))
        self._gene_text: dict[BlockGene, str] = {}

    @staticmethod
    def _choices(key: str, values: Sequence[Any], ok: Any, what: str) -> tuple:
        values = tuple(values)
        if not values:
            raise ConfigError(f"block space option {key!r} is empty; give at least one choice")
        for v in values:
            if not ok(v):
                raise ConfigError(f"block space option {key!r} has {v!r}; each choice must be {what}")
        if len(set(values)) != len(values):
            raise ConfigError(f"block space option {key!r} has duplicates {list(values)}; list each choice once")
        return values

    # --- representation --------------------------------------------------------------------
    def vocab_sizes(self) -> tuple[int, ...]:
        return self._vocab

    def position_names(self) -> tuple[str, ...]:
        return tuple(f"b{b}.{f}" for b in range(self.num_blocks) for f in FIELDS)

    def tokens(self, arch: BlockArch) -> tuple[int, ...]:
        if len(arch) != self.num_blocks:
            raise ValueError(f"a block architecture has {self.num_blocks} blocks, got {len(arch)}")
        out: list[int] = []
        idx = self._index
        for b, g in enumerate(arch):
            for f, v in zip(FIELDS, g):
                i = idx[f].get(v)
                if i is None:
                    raise ValueError(f"block {b} {f}={v!r} is not a searched choice {list(idx[f])}; "
                                     f"configure the space option to include it")
                out.append(i)
        return tuple(out)

    def from_tokens(self, tokens: Sequence[int]) -> BlockArch:
        if len(tokens) != len(self._vocab):
            raise ValueError(f"expected {len(self._vocab)} tokens, got {len(tokens)}")
        if not all(type(t) is int for t in tokens):  # numpy integers from controllers
            try:
                tokens = [operator.index(t) for t in tokens]
            except TypeError:
                raise ValueError(f"tokens must be integers, got {list(tokens)!r}") from None
        for p, (t, n) in enumerate(zip(tokens, self._vocab)):
            if not 0 <= t < n:
                raise ValueError(f"token {p} ({self.position_names()[p]}) is {t!r}; must be in 0..{n - 1}")
        ops, ks, sk, ls, ws = self._values
        return tuple(BlockGene(ops[tokens[i]], ks[tokens[i + 1]], sk[tokens[i + 2]], ls[tokens[i + 3]], ws[tokens[i + 4]])
                     for i in range(0, len(tokens), 5))

    def _encode_gene(self, g: BlockGene) -> str:
        text = self._gene_text.get(g)
        if text is None:
            text = f"{g.op}_k{g.kernel}_l{g.layers}_w{_num_label(g.width)}_s{g.skip}"
            self._gene_text[g] = text
        return text

    def encode(self, arch: BlockArch) -> str:
        return "-".join([self._encode_gene(g) for g in arch])

    def decode(self, text: str) -> BlockArch:
        if not isinstance(text, str):
            raise ArchStringError(f"expected a string, got {type(text).__name__}", 0)
        if not text:
            raise ArchStringError(f"empty string; write {self.num_blocks} blocks like {_EXAMPLE!r} joined by '-'", 0)
        parts = text.split("-")
        start = 0
        for b, part in enumerate(parts):
            if not part:
                raise ArchStringError(f"empty block {b} (a '-' at the start or end, or two in a row); "
                                      f"write blocks like {_EXAMPLE!r} joined by single '-'", start)
            start += len(part) + 1
        if len(parts) != self.num_blocks:
            pos = len(text) if len(parts) < self.num_blocks else sum(len(p) + 1 for p in parts[:self.num_blocks]) - 1
            raise ArchStringError(f"found {len(parts)} blocks separated by '-', expected {self.num_blocks} "
                                  f"(each like {_EXAMPLE!r})", pos)
        genes = []
        start = 0
        for b, part in enumerate(parts):
            genes.append(self._decode_gene(b, part, start))
            start += len(part) + 1
        return tuple(genes)

    def _decode_gene(self, b: int, part: str, start: int) -> BlockGene:
        fields = part.split("_")
        if len(fields) != 5:
            raise ArchStringError(f"block {b} {part!r} has {len(fields)} '_'-separated fields; expected 5 "
                                  f"<op>_k<kernel>_l<layers>_w<width>_s<skip> like {_EXAMPLE!r}", start)
        op = fields[0]
        if op not in OPS:
            raise ArchStringError(f"block {b}: unknown operation {op!r}; use one of {OPS.names()}", start)
        values: dict[str, Any] = {"op": op}
        pos = start + len(op) + 1
        for field, key, prefix in ((fields[1], "kernel", "k"), (fields[2], "layers", "l"),
                                   (fields[3], "width", "w"), (fields[4], "skip", "s")):
            labels = self._labels[key]
            if not field.startswith(prefix):
                raise ArchStringError(f"block {b}: field {field!r} should be {key} written as {prefix}<value> "
                                      f"(order op_k_l_w_s, like {_EXAMPLE!r})", pos)
            value = labels.get(field[len(prefix):])
            if value is None:
                raise ArchStringError(f"block {b}: {key} {field[len(prefix):]!r} is not allowed; "
                                      f"use one of {list(labels)}", pos + len(prefix))
            values[key] = value
            pos += len(field) + 1
        return BlockGene(**values)

    def canonical_key(self, arch: BlockArch) -> str:
        """The string; with ``sepconv_skip=False`` the (inert) skip flag of SepConv blocks is set to 0."""
        if not self.options.sepconv_skip:
            arch = tuple(g._replace(skip=0) if OPS.get(g.op).kind == "sep" else g for g in arch)
        return self.encode(arch)

    # --- sampling and mutation -------------------------------------------------------------
    def sample(self, rng: random.Random) -> BlockArch:
        return self.from_tokens([rng.randrange(n) for n in self._vocab])

    def actions(self, arch: BlockArch) -> list[Action]:
        """Every single-token change (all are valid in this space)."""
        toks = self.tokens(arch)
        return [a for pos, cur in enumerate(toks) for a in self._actions_at[pos] if a.value != cur]

    def apply(self, arch: BlockArch, action: Action) -> BlockArch:
        b, f = divmod(action.position, 5)
        if not (0 <= b < self.num_blocks and 0 <= action.value < self._vocab[action.position]):
            raise ValueError(f"action {action} is out of range for the block space")
        value = self._values[f][action.value]
        gene = arch[b]
        if gene[f] == value:
            raise ValueError(f"action {action} does not change the architecture")
        return arch[:b] + (gene._replace(**{FIELDS[f]: value}),) + arch[b + 1:]

    # --- building and cost -----------------------------------------------------------------
    def plan(self, arch: BlockArch, spec: BuildSpec) -> NetPlan:
        """Resolved channels/strides/shortcuts/sizes of every layer (used by build, cost and draw)."""
        self._check_buildable(arch)
        return plan_network(arch, spec.num_classes, spec.input_size, spec.in_channels, self.options)

    def _check_buildable(self, arch: BlockArch) -> None:
        if not isinstance(arch, tuple) or len(arch) != self.num_blocks:
            raise ValueError(f"a block architecture is a tuple of {self.num_blocks} BlockGene, got {arch!r}")
        for b, g in enumerate(arch):
            if not (isinstance(g, BlockGene) and g.op in OPS and g.kernel in self._index["kernel"]
                    and g.skip in (0, 1) and g.layers in self._index["layers"] and g.width in self._index["width"]):
                raise ValueError(f"block {b} gene {g!r} is not buildable in this space")

    def build(self, arch: BlockArch, spec: BuildSpec) -> BlockNet:
        return BlockNet(self.plan(arch, spec))

    def cost(self, arch: BlockArch, spec: BuildSpec) -> Cost:
        c = plan_cost(self.plan(arch, spec))
        return Cost(c.params, c.macs)

    def describe(self) -> dict[str, Any]:
        opts = self.options
        return {**super().describe(), "ops": list(self.ops), "kernels": list(self.kernels), "layers": list(self.layers),
                "widths": list(self.widths), "width_multiplier": opts.width_multiplier, "skip_mode": opts.skip_mode,
                "stem_stride": opts.stem_stride, "head_channels": opts.head_channels, "dropout": opts.dropout,
                "sepconv_skip": opts.sepconv_skip}
