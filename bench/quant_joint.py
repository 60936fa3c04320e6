"""Joint architecture + quantization search vs the two-step alternatives, at equal evaluation budget.

On digits (8x8, small scale), with N candidate evaluations each:
  (a) joint: one evolution over QuantSpace(block space, bits) genes (architecture + per-block bits);
      every candidate is trained in float, PTQ-quantized with its bits and validated;
  (b) architecture search, then uniform quantization: the same evolution over the architecture only
      (bits fixed to float, JASQ fitness on float size), then the best architecture quantized at
      uniform bits of the set (default 2/4/8/16/32);
  (c) fixed architecture (the block space's ``tiny`` preset, trained once), bit-policy search (N PTQ evaluations).
Prints each method's Pareto front over (validation accuracy, packed size) and its hypervolume against a
common reference (accuracy 10 % = chance, size 1.1 x the largest size seen), computed over log10(size)
(primary: sizes span orders of magnitude) and over linear size; writes a plot.

Usage: python bench/quant_joint.py [--evaluations 16] [--epochs 10] [--target-mb T --beta B] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import torch

from eatnas.data import DatasetConfig, load_dataset
from eatnas.quant.apply import quantize_model
from eatnas.quant.joint import run_joint_search
from eatnas.quant.policy import uniform_policy
from eatnas.quant.search import run_policy_search
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import model_size
from eatnas.search.fitness import hypervolume, pareto_front
from eatnas.space.base import BuildSpec, get_space
from eatnas.space.quant import QuantSpace
from eatnas.train.config import TrainConfig
from eatnas.train.trainer import evaluate, train_model

BASE = {"ops": ("sep", "mb3"), "kernels": (3, 5), "layers": (1, 2), "widths": (0.5, 1.0), "head_channels": 256}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/bench/quant_joint")
    ap.add_argument("--evaluations", type=int, default=16)
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target-mb", type=float, default=None,
                    help="JASQ size target T of the quantized model (default: mean of the initial population)")
    ap.add_argument("--beta", type=float, default=-0.07, help="JASQ exponent above the target (alpha stays -0.07)")
    ap.add_argument("--bits", default="2,4,8,16,32",
                    help="bit set of the searches and of the uniform baselines (JASQ code default: 4,8,16)")
    args = ap.parse_args()
    bits = tuple(int(b) for b in args.bits.split(","))
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # one thread: far faster than two on a shared, oversubscribed CPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_dataset(DatasetConfig(name="digits", val_fraction=0.2), args.seed)
    train_cfg = TrainConfig(lr=0.1, batch_size=64)
    base = get_space("block", **BASE)
    search = {"strategy": "rea", "population": 8, "sample": 3, "evaluations": args.evaluations}
    qs = QuantSettings(bits=bits, granularity="block", alpha=-0.07, beta=args.beta, target_mb=args.target_mb,
                       search=search)
    points: dict[str, list[tuple[float, float]]] = {}
    times = {}

    t = time.time()
    joint = QuantSpace(base, bits=bits, granularity="block")
    res_a, _ = run_joint_search(joint, splits, qs, args.epochs, train_cfg, args.seed, out / "joint")
    points["joint"] = [(r.result.metrics["accuracy"], r.result.metrics["size_mb"]) for r in res_a.records if r.ok]
    times["joint"] = time.time() - t

    t = time.time()
    arch_only = QuantSpace(base, bits=(32,), granularity="block", unit_names=joint.unit_names)
    # the architecture-only search sees float sizes: its target is 4 T (float size of an 8-bit model of size T)
    qs_b = QuantSettings(bits=(32,), granularity="block", alpha=-0.07, beta=args.beta,
                         target_mb=4 * args.target_mb if args.target_mb else None, search=search)
    res_b, ev_b = run_joint_search(arch_only, splits, qs_b, args.epochs, train_cfg, args.seed, out / "arch_then_uniform",
                                   keep_models=True)
    best_b = res_b.best()
    model_b = ev_b.models[best_b.task.key]
    points["arch search, then uniform"] = [
        (evaluate(quantize_model(model_b, uniform_policy(model_b, b)), splits.val, "cpu")[0],
         model_size(model_b, uniform_policy(model_b, b)).mb) for b in bits]
    times["arch search, then uniform"] = time.time() - t

    t = time.time()
    spec = BuildSpec(splits.num_classes, splits.resolution, splits.in_channels)
    fixed = base.build(base.preset("tiny"), spec)
    train_model(fixed, splits, epochs=args.epochs, cfg=train_cfg, seed=args.seed)
    fixed = fixed.eval()
    qs_c = QuantSettings(bits=bits, granularity="block", alpha=-0.07, beta=args.beta, target_mb=args.target_mb,
                         search=search)
    _, res_c = run_policy_search(fixed, lambda m: evaluate(m, splits.val, "cpu")[0], qs_c, out / "fixed_arch", args.seed)
    points["fixed arch, quant search"] = [(r.result.metrics["accuracy"], r.result.metrics["size_mb"])
                                          for r in res_c.records if r.ok]
    times["fixed arch, quant search"] = time.time() - t

    ref_cost = 1.1 * max(c for pts in points.values() for _, c in pts)
    summary = {}
    print(f"\ndigits, {args.evaluations} evaluations per method, {args.epochs:g} epochs per trained candidate; "
          f"hypervolume reference: accuracy 10 %, size {ref_cost:.4f} MB; primary HV over log10(size) "
          f"(sizes span orders of magnitude), linear-size HV also shown")
    for name, pts in points.items():
        front = [pts[i] for i in pareto_front(pts)]
        hv_log = hypervolume([(a, math.log10(c)) for a, c in pts], ref_cost=math.log10(ref_cost), ref_acc=10.0)
        hv_lin = hypervolume(pts, ref_cost=ref_cost, ref_acc=10.0)
        summary[name] = {"hypervolume_log": hv_log, "hypervolume_linear": hv_lin, "front": front, "points": len(pts),
                         "wall_s": times[name]}
        print(f"{name:<28} HV(log) {hv_log:8.3f}  HV(lin) {hv_lin:8.3f}  "
              f"({len(pts)} points, {len(front)} on the front, {times[name]:.0f}s)")
        for acc, size in front:
            print(f"    {size:8.4f} MB  {acc:6.2f} %")
    ok = all(summary["joint"]["hypervolume_log"] > v["hypervolume_log"] for k, v in summary.items() if k != "joint")
    ok_lin = all(summary["joint"]["hypervolume_linear"] > v["hypervolume_linear"]
                 for k, v in summary.items() if k != "joint")
    print(f"{'PASS' if ok else 'FAIL'}  joint HV(log size) > both two-step baselines")
    print(f"{'PASS' if ok_lin else 'FAIL'}  joint HV(linear size) > both two-step baselines")
    (out / "summary.json").write_text(json.dumps({"methods": summary, "ref_cost": ref_cost, "joint_wins_log": ok, "joint_wins_linear": ok_lin}, indent=2))
    _plot(out / "fronts.png", points)
    print(f"wrote {out / 'fronts.png'}, {out / 'summary.json'}")
    return 0 if ok else 1


def _plot(path: Path, points: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for (name, pts), c in zip(points.items(), ("tab:red", "tab:blue", "tab:green")):
        ax.scatter([s for _, s in pts], [a for a, _ in pts], s=10, c=c, alpha=0.4)
        front = sorted((pts[i] for i in pareto_front(pts)), key=lambda p: p[1])
        ax.step([s for _, s in front], [a for a, _ in front], where="post", c=c, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("model size (MB, packed)")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("digits: joint vs two-step search (Pareto fronts)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
