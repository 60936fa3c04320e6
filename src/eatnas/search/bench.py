"""NAS-Bench-201 benchmark: R independent searches of Q table queries each, scored on test accuracy.

Each search sees validation accuracy only (mean, or one random seed's value with ``noisy``); the
architecture it returns is its best by (observed) validation accuracy, and only that architecture's
test accuracy is looked up. Runs are independent (seed ``derive_seed(seed, "run", r)``) and spread
over worker processes; results do not depend on the number of processes.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from eatnas.errors import ConfigError
from eatnas.utils.seed import derive_seed

# Settings per strategy: "random" = random search (the initial population covers the whole budget).
PRESETS: dict[str, dict[str, Any]] = {
    "random": {"strategy": "random", "population": None, "sample": 1, "removal": "oldest"},
    "rea": {"strategy": "rea", "population": 10, "sample": 3, "removal": "oldest"},
    "renas": {"strategy": "renas", "population": 10, "sample": 3, "removal": "worst",
              "controller": {"embedding": 16, "hidden": 32, "lr": 0.02, "entropy": 1e-3, "baseline_decay": 0.9,
                             "steps": 2, "reward_norm": "zscore", "adv_clip": 3.0, "prefer_unseen": True,
                             "temperature": 1.0}},
}
CURVE_POINTS = (10, 25, 50, 75, 100, 150, 200, 300, 500, 1000)


@dataclass(frozen=True)
class RunOutcome:
    """One search: the returned cell's table row, and the incumbent row after each query."""

    row: int
    incumbent_rows: tuple[int, ...]
    repeats: int


def _one_run(table_path: str, preset: dict[str, Any], queries: int, seed: int, noisy: bool) -> RunOutcome:
    from eatnas.search.engine import Evolution, EvolutionSettings
    from eatnas.search.evaluators import TableEvaluator
    from eatnas.search.fitness import Fitness
    from eatnas.search.nb201_table import ops_index
    from eatnas.search.strategies import make_strategy
    from eatnas.search.workers import SerialExecutor
    from eatnas.space.base import get_space

    space = get_space("nb201")
    settings = EvolutionSettings(population=preset["population"] or queries, sample=preset["sample"],
                                 removal=preset["removal"], evaluations=queries, seed=seed)
    strategy = make_strategy(preset["strategy"], space, preset.get("controller"), seed)
    engine = Evolution(space, strategy, Fitness(), settings, SerialExecutor(TableEvaluator(table_path, noisy)))
    result = engine.run()
    rows, best, inc = [], -math.inf, -1
    for rec in result.records:
        if rec.ok and rec.fitness > best:
            best, inc = rec.fitness, ops_index(space.decode(rec.task.arch))
        rows.append(inc)
    return RunOutcome(row=inc, incumbent_rows=tuple(rows), repeats=result.repeats)


def _chunk(args: tuple) -> list[RunOutcome]:
    table_path, preset, queries, seeds, noisy = args
    import torch

    torch.set_num_threads(1)
    return [_one_run(table_path, preset, queries, s, noisy) for s in seeds]


def run_bench(table_path: str, strategy: str, queries: int, runs: int, seed: int = 0, noisy: bool = False,
              processes: int | None = None, preset: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the benchmark and return the summary (test accuracy mean/std, regret, curve, time)."""
    from eatnas.search.nb201_table import load_table

    if strategy not in PRESETS:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of: {', '.join(PRESETS)}")
    if queries <= 0 or runs <= 0:
        raise ConfigError(f"--queries and --runs must be > 0, got {queries} and {runs}")
    table = load_table(table_path)
    preset = dict(preset or PRESETS[strategy])
    seeds = [derive_seed(seed, "run", r) for r in range(runs)]
    processes = max(1, min(processes or os.cpu_count() or 1, runs))
    t0 = time.perf_counter()
    if processes == 1:
        outcomes = _chunk((table.path, preset, queries, seeds, noisy))
    else:
        chunks = [seeds[i::processes] for i in range(processes)]
        with mp.get_context("spawn").Pool(processes) as pool:
            parts = pool.map(_chunk, [(table.path, preset, queries, c, noisy) for c in chunks])
        by_seed = {}
        for c, part in zip(chunks, parts):
            by_seed.update(zip(c, part))
        outcomes = [by_seed[s] for s in seeds]
    wall = time.perf_counter() - t0
    return summarize(table, strategy, queries, runs, seed, noisy, outcomes, wall, preset)


def summarize(table: Any, strategy: str, queries: int, runs: int, seed: int, noisy: bool,
              outcomes: Sequence[RunOutcome], wall: float, preset: dict[str, Any]) -> dict[str, Any]:
    rows = np.array([o.row for o in outcomes])
    test = table.test[rows]
    valid = table.valid_mean[rows]
    best_test = table.best_test()
    curve = {}
    for q in CURVE_POINTS:
        if q <= queries:
            inc = np.array([o.incumbent_rows[min(q, len(o.incumbent_rows)) - 1] for o in outcomes])
            curve[str(q)] = round(float(np.mean(table.test[inc])), 4)
    return {
        "table": table.path, "strategy": strategy, "queries": queries, "runs": runs, "seed": seed, "noisy": noisy,
        "test_mean": float(test.mean()), "test_std": float(test.std()), "test_sem": float(test.std() / math.sqrt(len(test))),
        "valid_mean": float(valid.mean()), "regret_mean": float(best_test - test.mean()), "best_test": best_test,
        "repeats_mean": float(np.mean([o.repeats for o in outcomes])), "wall_time_s": wall,
        "anytime_test_mean": curve, "settings": preset,
    }


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Difference of mean test accuracy between two summaries and its standard error."""
    se = math.sqrt(a["test_sem"] ** 2 + b["test_sem"] ** 2)
    diff = a["test_mean"] - b["test_mean"]
    return {"a": a["strategy"], "b": b["strategy"], "diff": diff, "se": se, "z": diff / se if se > 0 else math.inf}


def format_summary(s: dict[str, Any]) -> str:
    curve = "  ".join(f"q={q}: {v:.2f}" for q, v in s["anytime_test_mean"].items())
    return (f"nb201 {os.path.basename(s['table'])} strategy={s['strategy']} queries={s['queries']} runs={s['runs']} "
            f"noisy={s['noisy']}\n"
            f"  test accuracy of returned cell: {s['test_mean']:.3f} +- {s['test_std']:.3f} (sem {s['test_sem']:.3f})\n"
            f"  mean valid accuracy (table mean): {s['valid_mean']:.3f}; regret vs best test {s['best_test']:.2f}: "
            f"{s['regret_mean']:.3f}\n"
            f"  anytime mean test acc of incumbent: {curve}\n"
            f"  repeats (free) per run: {s['repeats_mean']:.1f}; wall time {s['wall_time_s']:.1f} s")
