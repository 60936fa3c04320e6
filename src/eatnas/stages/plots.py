"""Figures of the report: search progress, Pareto front of bit policies, bits per layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from eatnas.transfer.compare import Point
from eatnas.transfer.runs import Evaluation


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_search_progress(searches: Mapping[str, tuple[Sequence[Evaluation], Sequence[Point]]],
                         path: str | Path) -> Path:
    """One panel per search: each evaluation's accuracy, the best so far, the population mean."""
    plt = _pyplot()
    n = len(searches)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.8), squeeze=False)
    for ax, (name, (evals, curve)) in zip(axes[0], searches.items()):
        xs = [i + 1 for i in range(len(evals))]
        accs = [e.accuracy for e in evals]
        best, top = [], float("-inf")
        for a in accs:
            top = max(top, a)
            best.append(top)
        ax.scatter(xs, accs, s=12, color="tab:gray", alpha=0.6, label="evaluation")
        ax.plot(xs, best, color="tab:red", lw=2, label="best so far")
        ax.plot([p.evaluations for p in curve], [p.mean_accuracy for p in curve], color="tab:blue", lw=1.5,
                label="population mean")
        ax.set_title(name)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return _save(fig, path)


def plot_pareto(rows: Sequence[Mapping[str, Any]], path: str | Path,
                final: Mapping[str, Any] | None = None) -> Path:
    """Accuracy vs size of every evaluated bit policy; Pareto front, uniform-bit policies, chosen policy."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    searched = [r for r in rows if not _is_uniform(r["label"])]
    ax.scatter([r["size_mb"] for r in searched], [r["accuracy"] for r in searched], s=14, color="tab:gray",
               alpha=0.6, label="searched policies")
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["size_mb"])
    ax.step([r["size_mb"] for r in front], [r["accuracy"] for r in front], where="post", color="tab:red",
            lw=1.5, label="Pareto front")
    for r in rows:
        if _is_uniform(r["label"]):
            ax.scatter([r["size_mb"]], [r["accuracy"]], marker="s", s=40, color="tab:blue")
            ax.annotate(r["label"], (r["size_mb"], r["accuracy"]), fontsize=7, xytext=(4, -10),
                        textcoords="offset points")
    chosen = [r for r in rows if r["label"] == "searched-best"]
    if chosen:
        ax.scatter([chosen[0]["size_mb"]], [chosen[0]["accuracy"]], marker="*", s=160, color="tab:orange",
                   label="chosen policy (validation)", zorder=5)
    if final:
        ax.scatter([final["size_mb"]], [final["quantized_test_accuracy"]], marker="D", s=50, color="tab:green",
                   label="final model (test)", zorder=5)
    ax.scatter([], [], marker="s", color="tab:blue", label="uniform bit-widths")
    ax.set_xscale("log")
    ax.set_xlabel("model size (MB, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _save(fig, path)


def _is_uniform(label: str) -> bool:
    return label == "float" or label.startswith("uniform-")


def plot_bits(layers: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Bar chart of the weight bit-width of each quantizable layer (32 = float)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(layers) + 2), 4.2))
    names = [str(e["name"]) for e in layers]
    bits = [int(e["bits"]) for e in layers]
    ax.bar(range(len(bits)), bits, color=["tab:gray" if b == 32 else "tab:blue" for b in bits])
    ax.set_xticks(range(len(bits)))
    ax.set_xticklabels(names, rotation=90, fontsize=6)
    ax.set_yticks(sorted(set(bits)))
    ax.set_ylabel("weight bits")
    ax.set_title("bits per layer of the final policy (grey = float)")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
