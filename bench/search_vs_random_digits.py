"""RENAS search vs random search on digits (block space, real training, CPU workers).

Both searches evaluate the same number of architectures. The RENAS search trains its initial
population ``init_epochs`` from scratch and fine-tunes every child ``child_epochs`` from its parent's
weights; random search trains every architecture ``init_epochs`` from scratch (at least the same
per-candidate budget). Because inherited children have seen more training, the two winners are then
retrained from scratch with the same budget and seeds and compared on validation and test accuracy.

Usage: python bench/search_vs_random_digits.py [--evaluations 40] [--workers 2] [--out results/bench/digits_search]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import yaml


def config(args: argparse.Namespace, strategy: str, population: int) -> dict:
    return {
        "seed": args.seed, "device": "cpu", "threads": 1,
        "data": {"small": {"name": "digits", "val_fraction": 0.2}},
        "space": {"name": "block", "width_multiplier": 0.25, "head_channels": 32, "ops": ["sep", "mb3", "mb6"]},
        "train": {"batch_size": 64, "lr": 0.1, "eval_batch_size": 1000},
        "search_small": {"strategy": strategy, "population": population, "sample": 3, "removal": "worst",
                         "evaluations": args.evaluations, "init_epochs": args.init_epochs,
                         "child_epochs": args.child_epochs, "inherit": True, "workers": args.workers,
                         "controller": {"embedding": 16, "hidden": 32, "lr": 0.01, "steps": 2}},
    }


def retrain(cfg: dict, arch: str, epochs: float, seeds: list[int]) -> dict:
    """Train ``arch`` from scratch with each seed; mean validation and test accuracy."""
    import torch

    from eatnas.config import from_dict, load_config
    from eatnas.data import DatasetConfig, load_dataset
    from eatnas.search.stage import space_from_config
    from eatnas.space.base import BuildSpec
    from eatnas.train import TrainConfig, train_model

    torch.set_num_threads(2)
    cfg = load_config(None, {k: v for k, v in cfg.items()})
    space, _ = space_from_config(cfg)
    splits = load_dataset(from_dict(DatasetConfig, cfg["data"]["small"], "data"), cfg["seed"])
    tcfg = from_dict(TrainConfig, cfg["train"], "train")
    vals, tests = [], []
    for s in seeds:
        model = space.build(space.decode(arch), BuildSpec(splits.num_classes, splits.resolution, splits.in_channels))
        m = train_model(model, splits, epochs=epochs, cfg=tcfg, seed=s, test=True)
        vals.append(m.accuracy)
        tests.append(m.test_accuracy)
    return {"val": statistics.mean(vals), "test": statistics.mean(tests), "val_runs": vals, "test_runs": tests}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluations", type=int, default=40)
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--init-epochs", type=float, default=3.0)
    ap.add_argument("--child-epochs", type=float, default=1.0)
    ap.add_argument("--retrain-epochs", type=float, default=8.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/bench/digits_search")
    args = ap.parse_args()

    from eatnas.config import load_config
    from eatnas.search.stage import run_stage

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"settings": vars(args)}
    for name, strategy, population in (("renas", "renas", args.population), ("random", "random", args.evaluations)):
        cfg = config(args, strategy, population)
        (out / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        t0 = time.perf_counter()
        best = run_stage(load_config(out / f"{name}.yaml"), "search_small", out / name)
        report[name] = {"best_arch": best["best"]["arch"], "best_search_val": best["best"]["metrics"]["accuracy"],
                        "evaluations": best["evaluations"], "failed": best["failed"],
                        "search_wall_s": time.perf_counter() - t0}
        print(f"{name}: best validation accuracy during search {report[name]['best_search_val']:.2f} "
              f"({best['evaluations']} evaluations, {report[name]['search_wall_s']:.0f} s)", flush=True)
    for name in ("renas", "random"):
        cfg = config(args, "random", args.population)
        report[name]["retrain"] = retrain(cfg, report[name]["best_arch"], args.retrain_epochs, [101, 102])
        r = report[name]["retrain"]
        print(f"{name}: winner retrained from scratch ({args.retrain_epochs:g} epochs, 2 seeds): "
              f"val {r['val']:.2f}  test {r['test']:.2f}", flush=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    a, b = report["renas"]["retrain"], report["random"]["retrain"]
    print(f"\nRENAS - random: retrained val {a['val'] - b['val']:+.2f}, test {a['test'] - b['test']:+.2f}; "
          f"search-time best val {report['renas']['best_search_val'] - report['random']['best_search_val']:+.2f} "
          f"-> {out / 'report.json'}")


if __name__ == "__main__":
    main()
