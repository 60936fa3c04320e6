"""NAS-Bench-201 cell space: 6 edges of a 4-node cell, 5 operations per edge.

Token view: the 6 op codes in the table's edge order 0->1, 0->2, 1->2, 0->3, 1->3, 2->3
(0 none, 1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3, 4 avg_pool_3x3). The canonical string is the
official format ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (groups = edges into nodes 1, 2, 3).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from eatnas.errors import ArchStringError
from eatnas.space.base import SPACES, Action, BuildSpec, Cost, SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_NODES = 4

NB201Arch = tuple  # tuple of 6 op codes


def live_edges(ops: Sequence[int]) -> tuple[bool, ...]:
    """Whether each edge lies on a path input -> output made of non-``none`` edges."""
    from_input = [True] + [False] * (NUM_NODES - 1)
    for j in range(1, NUM_NODES):
        from_input[j] = any(ops[e] != 0 and from_input[i] for e, (i, jj) in enumerate(EDGES) if jj == j)
    to_output = [False] * (NUM_NODES - 1) + [True]
    for i in range(NUM_NODES - 2, -1, -1):
        to_output[i] = any(ops[e] != 0 and to_output[j] for e, (ii, j) in enumerate(EDGES) if ii == i)
    return tuple(ops[e] != 0 and from_input[i] and to_output[j] for e, (i, j) in enumerate(EDGES))


@SPACES.register("nb201")
class NB201Space(SearchSpace):
    """The NAS-Bench-201 topology space (15,625 cells); networks built by ``eatnas.models.nb201_net``."""

    name: ClassVar[str] = "nb201"
    test_resolutions: ClassVar[tuple[int, ...]] = (32,)
    presets: ClassVar[dict[str, str]] = {
        "resnet": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
    }

    def __init__(self, C: int = 16, N: int = 5, **_: Any) -> None:
        self.C = int(C)
        self.N = int(N)
        self._keys: dict[tuple[int, ...], str] = {}

    # --- representation ---------------------------------------------------------------------
    def vocab_sizes(self) -> tuple[int, ...]:
        return (len(OPS),) * len(EDGES)

    def position_names(self) -> tuple[str, ...]:
        return tuple(f"e{i}->{j}" for i, j in EDGES)

    def tokens(self, arch: NB201Arch) -> tuple[int, ...]:
        return tuple(arch)

    def from_tokens(self, tokens: Sequence[int]) -> NB201Arch:
        toks = tuple(int(t) for t in tokens)
        if len(toks) != len(EDGES):
            raise ValueError(f"nb201: expected {len(EDGES)} tokens, got {len(toks)}")
        bad = [t for t in toks if not 0 <= t < len(OPS)]
        if bad:
            raise ValueError(f"nb201: op code {bad[0]} out of range 0..{len(OPS) - 1}")
        return toks

    def encode(self, arch: NB201Arch) -> str:
        ops = self.from_tokens(arch)
        groups = []
        for j in range(1, NUM_NODES):
            groups.append("|" + "|".join(f"{OPS[ops[e]]}~{i}" for e, (i, jj) in enumerate(EDGES) if jj == j) + "|")
        return "+".join(groups)

    def decode(self, text: str) -> NB201Arch:
        if not isinstance(text, str):
            raise ArchStringError(f"expected a string, got {type(text).__name__}")
        groups = text.strip().split("+")
        if len(groups) != NUM_NODES - 1:
            raise ArchStringError(f"expected 3 '+'-separated node groups like "
                                  f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|', got {len(groups)}", 0)
        ops = [0] * len(EDGES)
        pos = 0
        for j, group in enumerate(groups, start=1):
            if not (group.startswith("|") and group.endswith("|")):
                raise ArchStringError(f"node group {j} must start and end with '|'", pos)
            items = group[1:-1].split("|")
            if len(items) != j:
                raise ArchStringError(f"node {j} needs {j} edges, got {len(items)}", pos)
            for i, item in enumerate(items):
                op, sep, src = item.partition("~")
                if op not in OPS:
                    raise ArchStringError(f"unknown operation {op!r}; choose one of {list(OPS)}", pos)
                if sep != "~" or src != str(i):
                    raise ArchStringError(f"edge {item!r} into node {j} must read '{op}~{i}'", pos)
                ops[EDGES.index((i, j))] = OPS.index(op)
            pos += len(group) + 1
        return tuple(ops)

    def actions(self, arch: NB201Arch) -> list[Action]:
        """Every cell is valid, so every single-edge op change is an action (24 per cell)."""
        return [Action(pos, v) for pos, old in enumerate(self.from_tokens(arch)) for v in range(len(OPS)) if v != old]

    def apply(self, arch: NB201Arch, action: Action) -> NB201Arch:
        if not (0 <= action.value < len(OPS)) or arch[action.position] == action.value:
            raise ValueError(f"action {action} does not change the architecture or is out of range")
        return tuple(arch[:action.position]) + (action.value,) + tuple(arch[action.position + 1:])

    def canonical_key(self, arch: NB201Arch) -> str:
        """Dead edges (not on an input->output path) become ``none``; all-dead cells share one key."""
        key = self._keys.get(arch)
        if key is None:
            live = live_edges(arch)
            key = self._keys[tuple(arch)] = "".join(str(op if alive else 0) for op, alive in zip(arch, live))
        return key

    # --- building and cost ------------------------------------------------------------------
    def op_names(self, arch: NB201Arch) -> tuple[str, ...]:
        return tuple(OPS[t] for t in arch)

    def build(self, arch: NB201Arch, spec: BuildSpec) -> "nn.Module":
        from eatnas.models import nb201_net

        return nb201_net.build_nb201_network(**self._net_kwargs(nb201_net.build_nb201_network, arch, spec))

    def cost(self, arch: NB201Arch, spec: BuildSpec) -> Cost:
        from eatnas.models import nb201_net

        out = nb201_net.nb201_cost(**self._net_kwargs(nb201_net.nb201_cost, arch, spec))
        if isinstance(out, Cost):
            return out
        if isinstance(out, tuple):
            return Cost(int(out[0]), int(out[1]))
        return Cost(int(out.params), int(out.macs))

    def _net_kwargs(self, fn: Any, arch: NB201Arch, spec: BuildSpec) -> dict[str, Any]:
        """Arguments for the model builders, keeping only those their signature accepts."""
        kwargs = {"ops": self.op_names(arch), "num_classes": spec.num_classes, "C": self.C, "N": self.N,
                  "in_channels": spec.in_channels, "input_size": spec.input_size}
        params = inspect.signature(fn).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return kwargs
        return {k: v for k, v in kwargs.items() if k in params}

    def describe(self) -> dict[str, Any]:
        return {"space": self.name, "positions": len(EDGES), "C": self.C, "N": self.N}
