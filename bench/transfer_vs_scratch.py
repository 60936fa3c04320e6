"""Elastic transfer vs search from scratch: digits -> Fashion-MNIST (subset), several seeds, on this CPU.

Per seed, the pipeline's own commands run in order (each skipped when its output exists, so an
interrupted run resumes):

    eatnas search   --stage search_small          (digits)
    eatnas select                                   (top-k retrained, basic architecture)
    eatnas transfer                                 (parent on Fashion-MNIST, offspring + inherited weights)
    eatnas search   --stage search_large --init offspring.json
    eatnas search   --stage search_large_scratch    (same budget and settings, random population)
    eatnas transfer compare --final-epochs E --final-seeds R   (identical final training of both best architectures)

Fairness (defaults): both large searches use the same cost-aware fitness, JASQ/MnasNet form
val accuracy × (MACs/T)^-0.07 with the same fixed T (the median MACs of random architectures of
the space at the large task's spec, papers.md §1.3 [I]); the basic architecture is scaled to T
before the offspring are generated (``transfer.cost_target``, as EAT-NAS scales the seed); each
search's final architecture is its best by that validation fitness (test accuracy is never used for a
choice); both final architectures are trained from scratch with the same settings, data and R seeds.
``--fitness accuracy --cost-target none`` gives the earlier accuracy-only, unscaled comparison.

The small-task search and the selection get the budget of ``config/fashion.yaml`` (``--small-budget
standard``: 40 evaluations of 8 / 3 epochs, top 3 retrained with 2 seeds for 10 epochs; digits is cheap,
a few minutes per seed), so that the basic architecture is a trained choice rather than noise;
``--small-budget tiny`` (10 evaluations of 2 / 1 epochs, top 2 × 2 seeds × 4 epochs) is the earlier bench.

Then it prints population quality (mean validation accuracy of the population, mean ± std over
seeds) against evaluations and against wall time (the transfer stage's time is charged to the
seeded search), the final test accuracies, and writes ``OUT/transfer_vs_scratch.png`` and
``OUT/summary.json``.

    .venv/bin/python bench/transfer_vs_scratch.py                 # 3 seeds, ~25-35 min on 2 cores
    .venv/bin/python bench/transfer_vs_scratch.py --seeds 0 --quick
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

from eatnas.transfer.compare import Point, curve_for, plot_curves, shifted, transfer_time, value_at_time

ROOT = Path(__file__).resolve().parents[1]


def median_random_cost(seed: int, samples: int = 256) -> float:
    """Median MACs of random architectures of the bench space at the large task's spec (14 px, 1 channel)."""
    import random

    from eatnas.space.base import BuildSpec, get_space

    cfg = config(seed, False, None, "accuracy", None)
    space = get_space("block", **{k: v for k, v in cfg["space"].items() if k != "name"})
    rng = random.Random(seed)
    spec = BuildSpec(10, cfg["data"]["large"]["resolution"], 1)
    return float(statistics.median(space.cost(space.sample(rng), spec).macs for _ in range(samples)))


SMALL_BUDGETS = {
    # the small-task search and the basic-architecture selection: config/fashion.yaml's budget ...
    "standard": ({"population": 8, "sample": 2, "evaluations": 40, "init_epochs": 8, "child_epochs": 3},
                 {"top_k": 3, "seeds": 2, "epochs": 10}),
    # ... and the earlier bench's (results/bench/transfer_vs_scratch*)
    "tiny": ({"population": 5, "sample": 2, "evaluations": 10, "init_epochs": 2, "child_epochs": 1},
             {"top_k": 2, "seeds": 2, "epochs": 4}),
}


def config(seed: int, quick: bool, cost_target: float | None, objective: str, fitness_target: float | None,
           small_budget: str = "standard") -> dict:
    """The bench config: small networks and budgets so that one candidate takes seconds.

    ``objective``/``fitness_target``: the large searches' fitness (both of them: seeded and scratch);
    ``jasq`` = validation accuracy × (MACs/T)^-0.07 with the same fixed T for both.
    """
    evals = 6 if quick else 10
    small, select = SMALL_BUDGETS["tiny" if quick else small_budget]
    if quick:
        small, select = {**small, "evaluations": 6}, {**select, "epochs": 3}
    fitness = {"objective": objective}
    if objective == "jasq":
        fitness.update({"cost": "macs", "target": fitness_target, "alpha": -0.07, "beta": -0.07})
    return {
        "run": f"bench-transfer-{seed}", "seed": seed, "device": "cpu", "threads": 1,
        "space": {"name": "block", "width_multiplier": 0.5, "head_channels": 64},
        "data": {"small": {"name": "digits"},
                 "large": {"name": "fashion_mnist", "subset_fraction": 0.05, "resolution": 14}},
        "train": {"batch_size": 64, "lr": 0.1},
        "search_small": {"strategy": "rea", **small},
        "select": dict(select),
        "transfer": {"population": 5, "move_probability": 0.1, "max_distance": 3, "parent_epochs": 1,
                     "cost_metric": "macs", "cost_target": cost_target},
        "search_large": {"strategy": "rea", "population": 5, "sample": 2, "evaluations": evals,
                         "init_epochs": 1, "child_epochs": 1, "fitness": fitness},
    }


def run(cmd: list[str], log: Path) -> float:
    """Run one pipeline command (output to ``log``); return its wall time; exit on failure."""
    start = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run([sys.executable, "-m", "eatnas", *cmd], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        sys.exit(f"command failed (rc {proc.returncode}): eatnas {' '.join(cmd)}; see {log}")
    return time.perf_counter() - start


def _target(value: str | None, seed: int) -> float | None:
    if value is None or str(value).lower() in ("none", "null", ""):
        return None
    return median_random_cost(seed) if value == "auto" else float(value)


def pipeline(seed: int, out: Path, quick: bool, final_epochs: float, final_seeds: int, cost_target: str | None,
             objective: str, fitness_target: str | None, reuse: Path | None, small_budget: str) -> dict:
    """All stages for one seed; returns stage wall times."""
    d = out / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    target = _target(cost_target, seed)
    cfg = config(seed, quick, target, objective, _target(fitness_target, seed) if objective == "jasq" else None,
                 small_budget)
    if reuse is not None:
        # a stage is reused only when every config section it depends on is equal in the earlier run
        old_cfg = reuse / f"seed{seed}" / "config.yaml"
        old = yaml.safe_load(old_cfg.read_text()) if old_cfg.is_file() else {}
        depends = {"search_small": ("seed", "space", "data", "train", "search_small"),
                   "select": ("seed", "space", "data", "train", "search_small", "select"),
                   "search_large_scratch": ("seed", "space", "data", "train", "search_large")}
        names = [name for name, keys in depends.items() if all(old.get(k) == cfg.get(k) for k in keys)]
        for name in names:
            src = reuse / f"seed{seed}" / name
            if src.is_dir() and not (d / name).exists():
                shutil.copytree(src, d / name)
    cfg_path = d / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    log = d / "log.txt"
    c = ["--config", str(cfg_path)]
    steps = [
        ("search_small", d / "search_small/best.json",
         ["search", *c, "--stage", "search_small", "--out", str(d / "search_small")]),
        ("select", d / "select/basic.json", ["select", *c, "--search", str(d / "search_small"), "--out", str(d / "select")]),
        ("transfer", d / "transfer/offspring.json", ["transfer", *c, "--basic", str(d / "select"), "--out", str(d / "transfer")]),
        ("search_large", d / "search_large/best.json",
         ["search", *c, "--stage", "search_large", "--init", str(d / "transfer/offspring.json"), "--out", str(d / "search_large")]),
        ("search_large_scratch", d / "search_large_scratch/best.json",
         ["search", *c, "--stage", "search_large_scratch", "--out", str(d / "search_large_scratch")]),
        ("compare", d / "compare/compare.json",
         ["transfer", "compare", *c, "--seeded", str(d / "search_large"), "--scratch", str(d / "search_large_scratch"),
          "--transfer", str(d / "transfer"), "--final-epochs", str(final_epochs),
          "--final-seeds", str(final_seeds), "--out", str(d / "compare")]),
    ]
    times = {}
    for name, marker, cmd in steps:
        if marker.exists():
            times[name] = None
            continue
        times[name] = run(cmd, log)
        print(f"  seed {seed}: {name} {times[name]:.0f}s", flush=True)
    return times


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):6.2f} ± {sd:5.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=ROOT / "results/bench/transfer_vs_scratch")
    ap.add_argument("--quick", action="store_true", help="smaller budgets (a smoke run)")
    ap.add_argument("--final-epochs", type=float, default=None, help="final training epochs (default 6; quick 1)")
    ap.add_argument("--final-seeds", type=int, default=None,
                    help="final training runs per architecture, the same seeds for both searches (default 2; quick 1)")
    ap.add_argument("--fitness", choices=("jasq", "accuracy"), default="jasq",
                    help="fitness of both large searches: jasq = val accuracy × (MACs/T)^-0.07 with the same T "
                         "(--fitness-target) for both (default), or accuracy only")
    ap.add_argument("--fitness-target", default="auto",
                    help="T of the jasq fitness in MACs at the large task's spec; 'auto' (default) = the median "
                         "cost of random architectures of the space")
    ap.add_argument("--cost-target", default="auto",
                    help="transfer.cost_target (MACs at the large task's spec) the basic architecture is scaled to; "
                         "'auto' (default) = the median cost of random architectures (= the default fitness T); "
                         "'none' = no scaling")
    ap.add_argument("--small-budget", choices=sorted(SMALL_BUDGETS), default="standard",
                    help="budget of the small-task search and the selection: standard = config/fashion.yaml's "
                         "(default), tiny = the earlier bench's")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="copy search_small, select and search_large_scratch of each seed from this earlier bench "
                         "output, each only when the config sections it depends on are equal")
    args = ap.parse_args()
    final_epochs = args.final_epochs if args.final_epochs is not None else (1 if args.quick else 6)
    final_seeds = args.final_seeds if args.final_seeds is not None else (1 if args.quick else 2)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        pipeline(seed, args.out, args.quick, final_epochs, final_seeds, args.cost_target, args.fitness,
                 args.fitness_target, args.reuse, args.small_budget)

    seeded: list[list[Point]] = []
    scratch: list[list[Point]] = []
    finals = []
    for seed in args.seeds:
        d = args.out / f"seed{seed}"
        seeded.append(shifted(curve_for(d / "search_large"), transfer_time(d / "transfer")))
        scratch.append(curve_for(d / "search_large_scratch"))
        finals.append(json.loads((d / "compare/compare.json").read_text()))

    n = min(len(r) for r in seeded + scratch)
    print(f"\nPopulation quality (validation accuracy %, mean ± std over {len(args.seeds)} seeds)")
    print(f"{'evals':>5} | {'seeded mean':>15} | {'scratch mean':>15} | {'seeded best':>15} | {'scratch best':>15}")
    rows_eval = []
    for i in range(n):
        row = [[r[i].mean_accuracy for r in seeded], [r[i].mean_accuracy for r in scratch],
               [r[i].best_accuracy for r in seeded], [r[i].best_accuracy for r in scratch]]
        rows_eval.append({"evaluations": i + 1, "seeded_mean": row[0], "scratch_mean": row[1],
                          "seeded_best": row[2], "scratch_best": row[3]})
        print(f"{i + 1:>5} | " + " | ".join(f"{mean_std(v):>15}" for v in row))
    above_eval = [all(s[i].mean_accuracy > c[i].mean_accuracy for i in range(n)) for s, c in zip(seeded, scratch)]

    # wall-time grid per seed (transfer time charged to the seeded search): from the moment both searches
    # have a population (the later first result) to the end of the shorter one
    fractions = (0.0, 0.25, 0.5, 0.75, 1.0)
    print("\nPopulation mean accuracy against wall time (grid from the later first result to the earlier end)")
    print(f"{'frac':>5} | {'time s':>15} | {'seeded mean':>15} | {'scratch mean':>15}")
    rows_time, above_time = [], []
    per_seed_ok = [True] * len(seeded)
    for f in fractions:
        ts, sv, cv = [], [], []
        for k, (s, c) in enumerate(zip(seeded, scratch)):
            lo, hi = max(s[0].wall_time_s, c[0].wall_time_s), min(s[-1].wall_time_s, c[-1].wall_time_s)
            t = lo + f * max(hi - lo, 0.0)
            a, b = value_at_time(s, t, "mean_accuracy"), value_at_time(c, t, "mean_accuracy")
            ts.append(t)
            sv.append(a)
            cv.append(b)
            if a is None or (b is not None and a <= b):
                per_seed_ok[k] = False
        rows_time.append({"fraction": f, "time_s": ts, "seeded_mean": sv, "scratch_mean": cv})
        print(f"{f:>5} | {mean_std(ts):>15} | {mean_std(sv):>15} | {mean_std(cv):>15}")
    above_time = per_seed_ok

    def _r(x):
        return None if x is None else round(x, 2)

    st = [_r(f["summary"].get("seeded_final_test_accuracy")) for f in finals]
    ct = [_r(f["summary"].get("scratch_final_test_accuracy")) for f in finals]
    sv = [_r(f["summary"].get("seeded_final_val_accuracy")) for f in finals]
    cv = [_r(f["summary"].get("scratch_final_val_accuracy")) for f in finals]
    sm = [f["summary"].get("seeded_final_macs") for f in finals]
    cm = [f["summary"].get("scratch_final_macs") for f in finals]
    runs = {len(f.get("final", {}).get("seeded", {}).get("test_accuracies") or [None]) for f in finals}
    print(f"\nFinal architectures (chosen by each search's validation fitness), trained identically: "
          f"{final_epochs:g} epochs on the same subset, {'/'.join(map(str, sorted(runs)))} run(s) per architecture "
          f"with the same seeds; accuracy = mean of the runs")
    print(f"  seeded  MACs per seed {sm}")
    print(f"  scratch MACs per seed {cm}")
    print(f"  validation: seeded  {mean_std(sv)}   per seed {sv}")
    print(f"              scratch {mean_std(cv)}   per seed {cv}")
    print(f"  test:       seeded  {mean_std(st)}   per seed {st}")
    print(f"              scratch {mean_std(ct)}   per seed {ct}")
    print(f"seeded mean above scratch at every evaluation: {above_eval}; at every time point: {above_time}")
    st_ok = [s for s in st if s is not None]
    ct_ok = [c for c in ct if c is not None]
    final_ok = bool(st_ok and ct_ok) and statistics.fmean(st_ok) >= statistics.fmean(ct_ok)
    print(f"final test accuracy seeded >= scratch (mean over seeds): {final_ok}")

    plot = plot_curves({"seeded (elastic transfer)": seeded, "from scratch": scratch},
                       args.out / "transfer_vs_scratch.png",
                       f"digits -> Fashion-MNIST subset, {len(args.seeds)} seeds")
    summary = {"seeds": args.seeds, "by_evaluations": rows_eval, "by_wall_time": rows_time,
               "seeded_above_every_evaluation": above_eval, "seeded_above_every_time": above_time,
               "final_test_accuracy": {"seeded": st, "scratch": ct, "epochs": final_epochs, "runs": sorted(runs)},
               "final_val_accuracy": {"seeded": sv, "scratch": cv},
               "final_macs": {"seeded": sm, "scratch": cm},
               "settings": {"fitness": args.fitness, "fitness_target": args.fitness_target,
                            "small_budget": args.small_budget,
                            "cost_target": args.cost_target, "final_seeds": final_seeds},
               "final_seeded_at_least_scratch": final_ok, "plot": str(plot),
               "bench_wall_time_s": time.perf_counter() - start}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"plot: {plot}\nsummary: {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
