"""Draw an architecture as a PNG: a per-space drawer when registered, else a generic token table.

``register_drawer(space_name)`` adds a drawer ``f(space, arch, spec, ax) -> None`` for one space;
matplotlib is imported lazily so registering costs nothing.
"""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING, Any, Callable

from eatnas.space.base import BuildSpec, SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

Drawer = Callable[[SearchSpace, Any, BuildSpec, "Axes"], None]
DRAWERS: dict[str, Drawer] = {}
OP_COLOURS = {"sep": "#9ecae1", "mb1": "#fdd0a2", "mb3": "#fdae6b", "mb6": "#fd8d3c"}
OP_NAMES = {"sep": "SepConv", "mb1": "MBConv t=1", "mb3": "MBConv t=3", "mb6": "MBConv t=6"}


def register_drawer(space_name: str) -> Callable[[Drawer], Drawer]:
    """Decorator: use ``f`` to draw architectures of ``space_name``."""
    def deco(f: Drawer) -> Drawer:
        DRAWERS[space_name] = f
        return f
    return deco


def _cost_line(space: SearchSpace, arch: Any, spec: BuildSpec) -> str:
    try:
        c = space.cost(arch, spec)
    except ValueError:  # a space whose cost needs more than the spec
        return ""
    return f"{c.params / 1e6:.3f} M params, {c.macs / 1e6:.1f} M MACs"


def _box(ax: "Axes", y: float, height: float, text: str, colour: str, left: str = "") -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((0.18, y), 0.64, height, boxstyle="round,pad=0.005,rounding_size=0.01",
                                facecolor=colour, edgecolor="black", linewidth=1))
    ax.text(0.5, y + height / 2, text, ha="center", va="center", fontsize=9, family="monospace")
    if left:
        ax.text(0.16, y + height / 2, left, ha="right", va="center", fontsize=8.5)


@register_drawer("block")
def draw_block(space: Any, arch: Any, spec: BuildSpec, ax: "Axes") -> None:
    """Stem, one box per block (op, kernel, layers, width, skip; channels, stride, sizes), head."""
    from matplotlib.patches import Patch

    plan = space.plan(arch, spec)
    rows: list[tuple[str, str, str]] = []
    stem_out = (plan.input_size - 1) // plan.stem_stride + 1
    rows.append((f"stem  conv3x3 s{plan.stem_stride}  {plan.in_channels}->{plan.stem_channels} ch",
                 "#d9d9d9", f"{plan.input_size}->{stem_out} px"))
    for b, (gene, layers) in enumerate(zip(arch, plan.blocks)):
        first, size_in = layers[0], layers[0].size
        size_out = (size_in - 1) // first.stride + 1
        marks = " ".join({"none": "-", "identity": "I", "projection": "P"}[lp.shortcut] for lp in layers)
        skip_txt = f"skip={gene.skip}, shortcut per layer: {marks}"
        text = (f"B{b}  {OP_NAMES.get(gene.op, gene.op)}  k{gene.kernel}  x{gene.layers} layer"
                f"{'s' if gene.layers > 1 else ''}\n"
                f"w{gene.width:g}: {first.c_in}->{first.c_out} ch, stride {first.stride}\n{skip_txt}")
        rows.append((text, OP_COLOURS.get(gene.op, "#c7e9c0"), f"{size_in}->{size_out} px"))
    rows.append((f"head  conv1x1 {plan.head_in}->{plan.head_channels} ch\npool, "
                 f"{'dropout ' + format(plan.dropout, 'g') + ', ' if plan.dropout else ''}"
                 f"linear {plan.head_channels}->{plan.num_classes}", "#d9d9d9", f"{plan.feature_size} px"))
    n = len(rows)
    gap, top = 0.012, 0.93
    height = (top - 0.02) / n - gap
    for i, (text, colour, left) in enumerate(rows):
        y = top - (i + 1) * (height + gap) + gap
        _box(ax, y, height, text, colour, left)
        if i < n - 1:
            ax.annotate("", xy=(0.5, y - gap + 0.001), xytext=(0.5, y), arrowprops={"arrowstyle": "->", "lw": 0.8})
    ax.text(0.0, 0.0, "shortcut per layer: I = identity, P = 1x1 conv projection, - = none",
            fontsize=8, ha="left", va="bottom")
    used = [op for op in OP_COLOURS if any(g.op == op for g in arch)]
    ax.legend(handles=[Patch(facecolor=OP_COLOURS[o], edgecolor="black", label=OP_NAMES[o]) for o in used],
              loc="upper right", fontsize=8, frameon=False, bbox_to_anchor=(1.0, 1.0))


def draw_generic(space: SearchSpace, arch: Any, spec: BuildSpec, ax: "Axes") -> None:
    """Fallback for any space: the canonical string and a table of token positions and values."""
    names = space.position_names()
    toks = space.tokens(arch)
    wrapped = "\n".join(textwrap.wrap(space.encode(arch), 90))
    ax.text(0.02, 0.97, wrapped, ha="left", va="top", fontsize=8, family="monospace")
    cols = 2 if len(names) > 24 else 1
    per_col = -(-len(names) // cols)
    for i, (name, tok, n) in enumerate(zip(names, toks, space.vocab_sizes())):
        col, row = divmod(i, per_col)
        ax.text(0.04 + 0.48 * col, 0.85 - row * (0.8 / max(per_col, 1)), f"{name:>18} = {tok}  (of {n})",
                ha="left", va="top", fontsize=8, family="monospace")


def draw_arch(space: SearchSpace, arch: Any, spec: BuildSpec, out: str | os.PathLike, title: str | None = None) -> str:
    """Render ``arch`` of ``space`` to ``out`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    drawer = DRAWERS.get(space.name, draw_generic)
    tall = drawer is not draw_generic or len(space.position_names()) > 24
    fig, ax = plt.subplots(figsize=(8.5, 11 if tall else 6))
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    try:
        drawer(space, arch, spec, ax)
        head = f"{space.name} space" + (f" - {title}" if title else "")
        sub = f"input {spec.input_size} px x {spec.in_channels} ch, {spec.num_classes} classes. {_cost_line(space, arch, spec)}"
        ax.set_title(f"{head}\n{sub}", fontsize=10)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        fig.savefig(out, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return str(out)
