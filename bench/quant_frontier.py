"""Bit-policy search vs uniform quantization on Fashion-MNIST (JASQ's quantization-only setting).

1. Train a network in float (default: the block space's ``tiny`` preset with a stride-2 stem on
   Fashion-MNIST; ``--net mobilenet_v2`` / ``resnet18`` / ``space:preset`` and ``--data`` choose others,
   torchvision nets adapted to the input as in ``eatnas.quant.nets``), cached in the output folder.
2. Search a per-layer bit policy with the project engine: PTQ of the trained weights, validation
   accuracy, JASQ fitness acc * (size/T)^w with T = the uniform 4-bit size (alpha -0.07, beta -2).
   Uniform policies (every bit-width of the set, float included) seed the population, so the
   baselines are evaluated in the same run.
3. Print the table (policy, MB, val and test accuracy) of uniform 2/3/4/5/6/8/16/float and the searched
   policy, check the claims, and plot accuracy vs size.

Usage: python bench/quant_frontier.py [--out results/bench/quant_frontier] [--evaluations 80] [--steps 900]
       python bench/quant_frontier.py --net mobilenet_v2 --subset 0.25 --out results/bench/quant_frontier_mobilenet_v2
       python bench/quant_frontier.py --net resnet18 --data digits --steps 300 --out results/bench/quant_frontier_resnet18
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
from eatnas.quant.nets import build_net
from eatnas.quant.policy import uniform_policy
from eatnas.quant.search import frontier_rows, run_policy_search, write_frontier_csv
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import float_size_mb, model_size
from eatnas.space.base import BuildSpec
from eatnas.train.config import TrainConfig
from eatnas.train.trainer import evaluate, train_model

NET = "block:tiny"
SPACE_OPTIONS = {"stem_stride": 2}  # block space: 14x14 features after the stem keep CPU training to minutes
BITS = (2, 3, 4, 5, 6, 8, 16, 32)


def trained_model(net: str, splits, out: Path, steps: int, seed: int) -> torch.nn.Module:
    spec = BuildSpec(splits.num_classes, splits.resolution, splits.in_channels)
    model, _ = build_net(net, spec, SPACE_OPTIONS if net.startswith("block:") else None)
    path = out / f"float_{net.replace(':', '_')}_{steps}.pt"
    if path.is_file():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    t = time.time()
    m = train_model(model, splits, steps=steps, cfg=TrainConfig(lr=0.1, batch_size=128), seed=seed)
    print(f"trained {net} {steps} steps in {time.time() - t:.0f}s: val {m.accuracy:.2f}%")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.eval()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/bench/quant_frontier")
    ap.add_argument("--evaluations", type=int, default=80)
    ap.add_argument("--steps", type=int, default=900, help="float training steps (batch 128)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--net", default=NET, help="mobilenet_v2 | resnet18 | space:preset (default block:tiny, stride-2 stem)")
    ap.add_argument("--data", default="fashion_mnist", help="dataset name (default fashion_mnist)")
    ap.add_argument("--subset", type=float, default=1.0,
                    help="share of the training images kept (training and validation); the test split stays whole")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # one thread: far faster than two on a shared, oversubscribed CPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_dataset(DatasetConfig(name=args.data, subset_fraction=args.subset), args.seed)
    model = trained_model(args.net, splits, out, args.steps, args.seed)
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
    print(f"\n{args.net} ({sum(p.numel() for p in model.parameters())} params) on {args.data} "
          f"(subset {args.subset:g}: {len(splits.val)} val, {len(splits.test)} test images); "
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
    (out / "table.json").write_text(json.dumps({"args": vars(args), "table": table, "checks": checks,
                                                "target_mb": target, "search_s": search_s}, indent=2))
    _plot(out / "frontier.png", rows, table, f"{args.net} on {args.data}")
    print(f"wrote {out / 'frontier.png'}, {out / 'frontier.csv'}, {out / 'table.json'}")
    return 0 if all(checks.values()) else 1


def _plot(path: Path, rows: list[dict], table: list[dict], title: str) -> None:
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
    ax.set_title(f"{title}: bit-policy search vs uniform quantization")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
