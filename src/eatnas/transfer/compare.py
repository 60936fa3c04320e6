"""Seeded large-dataset search vs search from scratch: population quality against budget, final accuracy.

Population quality at a point of a search is the mean (and the best) validation accuracy of the
population alive after that evaluation (EAT-NAS "population quality"; papers.md §1.1 [I]: the mean).
The population is replayed from ``history.jsonl``: every finished evaluation joins it, and removals
follow the history's own records when it has them, otherwise the search's removal rule
(``oldest``; ``worst`` removes the worst member) with its ``population`` size.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from eatnas.errors import EatnasError
from eatnas.transfer.runs import Evaluation, best_arch, read_best, read_history, search_section
from eatnas.utils.io import write_json_atomic, write_text_atomic
from eatnas.version import code_version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Point:
    """Population quality after ``evaluations`` finished evaluations, ``wall_time_s`` into the search."""

    evaluations: int
    wall_time_s: float
    mean_accuracy: float
    best_accuracy: float
    size: int


def _removed_id(rec: Mapping[str, Any]) -> Any:
    for key in ("removed_id", "removed"):
        if key in rec and rec[key] is not None:
            return rec[key]
    return None


def population_curve(evals: Sequence[Evaluation], population: int, removal: str = "oldest") -> list[Point]:
    """Replay the population of a search over its evaluations (see the module docstring)."""
    if population < 1:
        raise EatnasError(f"population={population}: must be at least 1")
    alive: list[tuple[Any, float, float]] = []  # (id, accuracy, fitness), oldest first
    explicit = any(_removed_id(ev.record) is not None for ev in evals)
    points = []
    for n, ev in enumerate(evals, start=1):
        ident = ev.record.get("id", ev.index)
        if explicit:
            gone = _removed_id(ev.record)
            if gone is not None:
                alive = [m for m in alive if m[0] != gone]
        alive.append((ident, ev.accuracy, ev.fitness))
        while not explicit and len(alive) > population:
            if removal == "worst":  # as the engine: the lowest fitness, ties the earliest
                alive.pop(min(range(len(alive)), key=lambda i: (alive[i][2], i)))
            else:
                alive.pop(0)
        accs = [a for _, a, _ in alive]
        points.append(Point(n, ev.wall_time_s, statistics.fmean(accs), max(accs), len(accs)))
    return points


def search_settings(search_dir: str | Path, default_population: int = 8, default_removal: str = "oldest") -> tuple[int, str]:
    """Population size and removal rule a search ran with (its ``best.json`` config), else the defaults."""
    section = search_section(read_best(search_dir))
    removal = str(section.get("removal", default_removal))
    fitness = section.get("fitness") if isinstance(section.get("fitness"), dict) else {}
    if fitness.get("objective") == "jasq" and fitness.get("target") is None:
        removal = "oldest"  # the engine removes the oldest while a JASQ target is being calibrated
    return int(section.get("population", default_population)), removal


def curve_for(search_dir: str | Path) -> list[Point]:
    population, removal = search_settings(search_dir)
    return population_curve(read_history(search_dir), population, removal)


def value_at_time(points: Sequence[Point], t: float, attr: str) -> float | None:
    """The last ``attr`` value reached by time ``t`` (``None`` before the first evaluation finished)."""
    value = None
    for p in points:
        if p.wall_time_s <= t:
            value = getattr(p, attr)
        else:
            break
    return value


def time_grid(a: Sequence[Point], b: Sequence[Point], n: int = 20) -> list[float]:
    """``n`` times between the later first evaluation and the earlier last evaluation of the two searches."""
    start = max(a[0].wall_time_s, b[0].wall_time_s)
    end = min(a[-1].wall_time_s, b[-1].wall_time_s)
    if end <= start:
        return [end]
    return [start + (end - start) * i / (n - 1) for i in range(n)]


def compare_curves(seeded: Sequence[Point], scratch: Sequence[Point]) -> dict[str, Any]:
    """Rows on a common evaluation grid and a common wall-time grid, plus 'above at every point' flags."""
    n = min(len(seeded), len(scratch))
    by_eval = [{"evaluations": i + 1,
                "seeded_mean": seeded[i].mean_accuracy, "scratch_mean": scratch[i].mean_accuracy,
                "seeded_best": seeded[i].best_accuracy, "scratch_best": scratch[i].best_accuracy}
               for i in range(n)]
    by_time = []
    for t in time_grid(seeded, scratch):
        by_time.append({"wall_time_s": t,
                        "seeded_mean": value_at_time(seeded, t, "mean_accuracy"),
                        "scratch_mean": value_at_time(scratch, t, "mean_accuracy")})
    return {
        "by_evaluations": by_eval,
        "by_wall_time": by_time,
        "seeded_mean_above_every_evaluation": all(r["seeded_mean"] > r["scratch_mean"] for r in by_eval),
        "seeded_mean_above_every_time": all(r["seeded_mean"] is not None and
                                            (r["scratch_mean"] is None or r["seeded_mean"] > r["scratch_mean"])
                                            for r in by_time),
    }


def plot_curves(curves: Mapping[str, Sequence[Sequence[Point]]], path: str | Path, title: str = "") -> Path:
    """Population quality (mean; best dashed) against evaluations and wall time, one colour per search.

    ``curves[label]`` is a list of runs (one per seed); each run is drawn thin, the across-seed mean thick.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_e, ax_t) = plt.subplots(1, 2, figsize=(11, 4))
    for (label, runs), color in zip(curves.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red")):
        for run in runs:
            ax_e.plot([p.evaluations for p in run], [p.mean_accuracy for p in run], color=color, alpha=0.3, lw=0.8)
            ax_t.plot([p.wall_time_s for p in run], [p.mean_accuracy for p in run], color=color, alpha=0.3, lw=0.8)
        n = min(len(r) for r in runs)
        mean = [statistics.fmean(r[i].mean_accuracy for r in runs) for i in range(n)]
        best = [statistics.fmean(r[i].best_accuracy for r in runs) for i in range(n)]
        ax_e.plot(range(1, n + 1), mean, color=color, lw=2, label=f"{label} mean")
        ax_e.plot(range(1, n + 1), best, color=color, lw=1.5, ls="--", label=f"{label} best")
        ax_t.plot([statistics.fmean(r[i].wall_time_s for r in runs) for i in range(n)], mean, color=color, lw=2,
                  label=f"{label} mean")
    ax_e.set_xlabel("evaluations")
    ax_t.set_xlabel("wall time (s)")
    for ax in (ax_e, ax_t):
        ax.set_ylabel("population validation accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def final_test_accuracies(cfg: Mapping[str, Any], search_dirs: Mapping[str, str | Path], *, epochs: float,
                          seed: int | None = None, seeds: int = 1) -> dict[str, dict[str, Any]]:
    """Train each search's final architecture from scratch on the large dataset with identical settings.

    Every architecture is trained ``seeds`` times; run ``i`` uses the same seed for every search
    (weight initialisation, data order), so the searches differ only by their architecture. The
    reported ``val_accuracy`` / ``test_accuracy`` are the means over the runs (runs whose loss
    diverged are left out of the means); the per-run values are listed too.
    """
    import torch

    from eatnas.train import train_model
    from eatnas.transfer.context import decode_in_space, device_of, load_task, space_from_config, train_settings
    from eatnas.utils.seed import derive_seed

    if seeds < 1:
        raise EatnasError(f"final training seeds={seeds}: must be at least 1")
    seed = int(cfg.get("seed", 0)) if seed is None else seed
    space = space_from_config(cfg)
    task = load_task(cfg, "large", seed)
    # run 0 keeps the historical seed, so a one-seed comparison is unchanged
    run_seeds = [derive_seed(seed, "final-compare") if i == 0 else derive_seed(seed, "final-compare", i)
                 for i in range(seeds)]
    out = {}
    for label, d in search_dirs.items():
        text = best_arch(d)
        arch = decode_in_space(space, text, str(Path(d) / "best.json"), read_best(d).get("space"))
        vals, tests, m = [], [], None
        for run_seed in run_seeds:
            torch.manual_seed(run_seed)  # weight initialisation; train_model seeds the rest
            model = space.build(arch, task.spec)
            m = train_model(model, task.splits, epochs=epochs, cfg=train_settings(cfg), device=device_of(cfg),
                            seed=run_seed, test=True)
            vals.append(m.accuracy)
            tests.append(m.test_accuracy)

        def _mean(xs: list[Any]) -> float | None:
            ok = [float(x) for x in xs if isinstance(x, (int, float)) and x == x]
            return statistics.fmean(ok) if ok else None

        out[label] = {"arch": text, "val_accuracy": _mean(vals), "test_accuracy": _mean(tests),
                      "val_accuracies": vals, "test_accuracies": tests, "run_seeds": run_seeds,
                      "params": m.params, "macs": m.macs, "epochs": epochs}
    return out


def _csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else (f"{v:.4f}" if isinstance(v, float) else v)) for k, v in row.items()})
    return buf.getvalue()


def shifted(points: Sequence[Point], offset_s: float) -> list[Point]:
    """``points`` with ``offset_s`` added to every wall time (e.g. the transfer stage's cost)."""
    return [replace(p, wall_time_s=p.wall_time_s + offset_s) for p in points]


def transfer_time(transfer_dir: str | Path) -> float:
    """Wall time of the transfer stage (parent training + inheritance) from its ``offspring.json``."""
    path = Path(transfer_dir) / "offspring.json"
    try:
        return float(json.loads(path.read_text())["wall_time_s"])
    except (OSError, ValueError, KeyError, TypeError):
        raise EatnasError(f"{path}: missing or without 'wall_time_s'; rerun `eatnas transfer`") from None


def compare_searches(seeded_dir: str | Path, scratch_dir: str | Path, out_dir: str | Path, *,
                     final: Mapping[str, Mapping[str, Any]] | None = None,
                     config: Mapping[str, Any] | None = None, seeded_time_offset_s: float = 0.0) -> dict[str, Any]:
    """Write ``compare.json``, ``compare.csv`` and ``population_quality.png`` into ``out_dir``; return the table.

    ``final`` (optional) maps ``seeded``/``scratch`` to final-training results (``test_accuracy``, ...).
    ``seeded_time_offset_s`` is charged to the seeded search's wall time (the transfer stage's cost).
    """
    seeded = shifted(curve_for(seeded_dir), seeded_time_offset_s)
    scratch = curve_for(scratch_dir)
    table = compare_curves(seeded, scratch)
    summary: dict[str, Any] = {
        "evaluations": min(len(seeded), len(scratch)),
        "seeded_final_mean": seeded[-1].mean_accuracy, "scratch_final_mean": scratch[-1].mean_accuracy,
        "seeded_final_best": seeded[-1].best_accuracy, "scratch_final_best": scratch[-1].best_accuracy,
        "seeded_wall_time_s": seeded[-1].wall_time_s, "scratch_wall_time_s": scratch[-1].wall_time_s,
        "seeded_mean_above_every_evaluation": table["seeded_mean_above_every_evaluation"],
        "seeded_mean_above_every_time": table["seeded_mean_above_every_time"],
        "seeded_arch": best_arch(seeded_dir), "scratch_arch": best_arch(scratch_dir),
        "seeded_time_offset_s": seeded_time_offset_s,
    }
    if final:
        for label in ("seeded", "scratch"):
            if label in final:
                summary[f"{label}_final_test_accuracy"] = final[label].get("test_accuracy")
                summary[f"{label}_final_val_accuracy"] = final[label].get("val_accuracy")
                summary[f"{label}_final_macs"] = final[label].get("macs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "compare.csv", _csv(table["by_evaluations"]))
    plot = plot_curves({"seeded": [seeded], "scratch": [scratch]}, out_dir / "population_quality.png",
                       "seeded (elastic transfer) vs from scratch")
    result = {"summary": summary, **table, "final": dict(final or {}),
              "curves": {"seeded": [asdict(p) for p in seeded], "scratch": [asdict(p) for p in scratch]},
              "seeded_dir": str(seeded_dir), "scratch_dir": str(scratch_dir), "plot": str(plot),
              "config": dict(config or {}), "code_version": code_version()}
    write_json_atomic(out_dir / "compare.json", result)
    return result
