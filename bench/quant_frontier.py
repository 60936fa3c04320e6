"""Bit-policy search vs uniform quantization on Fashion-MNIST (JASQ's quantization-only setting).

1. Train a small block-space network in float on Fashion-MNIST (cached in the output folder).
2. Search a per-layer bit policy with the project engine: PTQ of the trained weights, validation
   accuracy, JASQ fitness acc * (size/T)^w with T = the uniform 4-bit size (alpha -0.07, beta -2).
   Uniform policies (every bit-width of the set, float included) seed the population, so the
   baselines are evaluated in the same run.
3. Print the table (policy, MB, val and test accuracy) of uniform 2/3/4/5/6/8/16/float and the searched
   policy, check the claims, and plot accuracy vs size.

Usage: python bench/quant_frontier.py [--out results/bench/quant_frontier] [--evaluations 80] [--steps 900]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from eatnas.data import DatasetConfig, load_dataset
from eatnas.quant.apply import quantize_model
from eatnas.quant.policy import uniform_policy
from eatnas.quant.search import frontier_rows, run_policy_search, write_frontier_csv
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import float_size_mb, model_size
from eatnas.space.base import BuildSpec, get_space
from eatnas.train.config import TrainConfig
from eatnas.train.trainer import evaluate, train_model

ARCH = "tiny"
SPACE_OPTIONS = {"stem_stride": 2}  # 14x14 features after the stem: keeps CPU training to minutes
BITS = (2, 3, 4, 5, 6, 8, 16, 32)


def trained_model(splits, out: Path, steps: int, seed: int) -> torch.nn.Module:
    space = get_space("block", **SPACE_OPTIONS)
    model = space.build(space.preset(ARCH), BuildSpec(splits.num_classes, splits.resolution, splits.in_channels))
    path = out / f"float_{ARCH}_{steps}.pt"
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    t = time.time()
    m = train_model(model, splits, steps=steps, cfg=TrainConfig(lr=0.1, batch_size=128), seed=seed)
    print(f"trained block:{ARCH} {steps} steps in {time.time() - t:.0f}s: val {m.accuracy:.2f}%")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/bench/quant_frontier")
    ap.add_argument("--evaluations", type=int, default=80)
    ap.add_argument("--steps", type=int, default=900, help="float training steps (batch 128)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # one thread: far faster than two on a shared, oversubscribed CPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_dataset(DatasetConfig(name="fashion_mnist"), args.seed)
    model = trained_model(splits, out, args.steps, args.seed)
    target = model_size(model, uniform_policy(model, 4)).mb
    qs = QuantSettings(bits=BITS, granularity="layer", target_mb=target, alpha=-0.07, beta=-2.0,
                       search={"strategy": "rea", "population": 16, "sample": 4, "evaluations": args.evaluations})
    t = time.time()
    space, result = run_policy_search(model, lambda m: evaluate(m, splits.val, "cpu")[0], qs, out, args.seed)
    search_s = time.time() - t
    rows = frontier_rows(space, result)
    write_frontier_csv(out / "frontier.csv", rows)
    best = result.best()
    table = [r for r in rows if r["label"].startswith("uniform") or r["label"] == "float"]
    table.sort(key=lambda r: r["size_mb"])
    table.append([r for r in rows if r["arch"] == best.task.arch][0])
    for r in table:  # test accuracy only for the reported table, after the search
        r["test_accuracy"] = evaluate(quantize_model(model, space.policy(space.decode(r["arch"]))), splits.test, "cpu")[0]
    fl = float_size_mb(model)
    print(f"\nblock:{ARCH} ({sum(p.numel() for p in model.parameters())} params) on Fashion-MNIST; "
          f"search: {result.evaluations} policies in {search_s:.0f}s, T = uniform-4 size = {target:.4f} MB")
    print(f"{'policy':<14}{'MB':>9}{'x float':>9}{'avg bits':>9}{'val acc':>9}{'test acc':>9}")
    for r in table:
        print(f"{r['label']:<14}{r['size_mb']:>9.4f}{r['size_mb'] / fl:>9.3f}{r['avg_bits']:>9.2f}"
              f"{r['accuracy']:>9.2f}{r['test_accuracy']:>9.2f}")
    print(f"searched policy: {best.task.arch}")
    by = {r["label"]: r for r in table}
    s, u4, fp = table[-1], by["uniform-4"], by["float"]
    checks = {
        "size <= uniform-4": s["size_mb"] <= u4["size_mb"],
        "test acc > uniform-4": s["test_accuracy"] > u4["test_accuracy"],
        "val acc > uniform-4": s["accuracy"] > u4["accuracy"],
        "size <= float/6": s["size_mb"] <= fl / 6,
        "test acc >= float - 0.5": s["test_accuracy"] >= fp["test_accuracy"] - 0.5,
        "val acc >= float - 0.5": s["accuracy"] >= fp["accuracy"] - 0.5,
    }
    for k, v in checks.items():
        print(f"  {'PASS' if v else 'FAIL'}  {k}")
    (out / "table.json").write_text(json.dumps({"table": table, "checks": checks, "target_mb": target}, indent=2))
    _plot(out / "frontier.png", rows, table)
    print(f"wrote {out / 'frontier.png'}, {out / 'frontier.csv'}, {out / 'table.json'}")
    return 0 if all(checks.values()) else 1


def _plot(path: Path, rows: list[dict], table: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    searched = [r for r in rows if r["label"].startswith("searched")]
    ax.scatter([r["size_mb"] for r in searched], [r["accuracy"] for r in searched], s=10, c="0.6",
               label="evaluated policies (val)")
    uni = [r for r in table if r["label"].startswith("uniform") or r["label"] == "float"]
    ax.plot([r["size_mb"] for r in uni], [r["accuracy"] for r in uni], "o-", c="tab:blue", label="uniform bits (val)")
    for r in uni:
        ax.annotate(r["label"].replace("uniform-", ""), (r["size_mb"], r["accuracy"]), fontsize=7)
    b = table[-1]
    ax.scatter([b["size_mb"]], [b["accuracy"]], marker="*", s=160, c="tab:red", label="searched policy (val)", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("model size (MB, packed)")
    ax.set_ylabel("accuracy (%)")
    lo = min(r["accuracy"] for r in uni if r["label"] != "uniform-2")
    ax.set_ylim(max(0, lo - 5), max(r["accuracy"] for r in rows) + 1)
    ax.legend(fontsize=8)
    ax.set_title("Fashion-MNIST: bit-policy search vs uniform quantization")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
