"""Joint architecture + quantization search vs the two-step alternatives, at equal evaluation budget.

On digits (8x8, small scale; or ``--data fashion_mnist --subset F``: 28x28, block space with a stride-2
stem), with N validated evaluations each (one evaluation = one (network, bit
policy) measured on the validation split; every trained network gets the same float training:
``--epochs`` from scratch, seed derived from the run seed and the architecture, so one architecture has
the same weights in every method):
  (a) joint: one evolution over QuantSpace(block space, bits) genes (architecture + per-block bits);
      every candidate's network is trained in float (cached per architecture: a bits-only child reuses
      it), PTQ-quantized with its bits and validated;
  (b) architecture search, then uniform quantization: the same evolution over the architecture only
      (float, N - Q*(|bits|-1) evaluations; its float points count when 32 is in the bit set), then the
      Q architectures spread along its (accuracy, float size) front quantized at every other bit-width
      of the set (Q*(|bits|-1) evaluations);
  (c) fixed architecture (the block space's ``tiny`` preset, the cheapest network of the space, trained
      once), bit-policy search (N PTQ evaluations; the uniform policies are its first members).
Same engine, strategy (``rea``, population 8, sample 3), JASQ fitness settings and parent selection
(``--selection pareto``: parents from the non-dominated set of all evaluations, default; ``fitness``: the
JASQ scalar tournament) in all three. Joint and arch-only start from the same random architectures
(``--init uniform_bits``: the joint members get one random bit-width each, cycling through the set;
``--init size_spread``: the same, with architectures spread over the parameter count of many random draws).
Training protocol (``--child-epochs``): unset = every network trains ``--epochs`` from scratch (cached per
architecture, as above); a number = JASQ's weight inheritance in all three methods alike: initial
members train ``--epochs`` from scratch, every child starts from its parent's float weights and trains
``--child-epochs`` more before PTQ (bits-only children too), so (a) is one evolution over both gene
groups, (b) the same evolution with the bits frozen at float (then the uniform PTQ of its front, from
those networks' own weights), (c) the same evolution with the architecture frozen at ``tiny``
(``QuantSpace(fixed_base=...)``, initial members = ``tiny`` at every uniform bit-width).
Prints each method's Pareto front over (validation accuracy, packed size) and its hypervolume against a
common reference (accuracy 10 % = chance, size 1.1 x the largest size seen by any method), computed over
log10(size) (primary: sizes span orders of magnitude) and over linear size; writes a plot.

Usage: python bench/quant_joint.py [--evaluations 36] [--epochs 8] [--child-epochs 3] [--selection pareto] [--out DIR]
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
from eatnas.errors import ConfigError
from eatnas.quant.apply import quantize_model
from eatnas.quant.joint import INITS, run_joint_search
from eatnas.quant.policy import uniform_policy
from eatnas.quant.search import run_policy_search
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import model_size
from eatnas.search.engine import InitCandidate
from eatnas.search.fitness import hypervolume, pareto_front
from eatnas.space.base import get_space
from eatnas.space.quant import QuantSpace
from eatnas.train.config import TrainConfig
from eatnas.train.trainer import evaluate
from eatnas.utils.device import resolve_device

BASE = {"ops": ("sep", "mb3"), "kernels": (3, 5), "layers": (1, 2), "widths": (0.5, 1.0), "head_channels": 256}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/bench/quant_joint")
    ap.add_argument("--evaluations", type=int, default=36)
    ap.add_argument("--epochs", type=float, default=8, help="float training of every network trained from scratch")
    ap.add_argument("--child-epochs", type=float, default=None,
                    help="JASQ weight inheritance in all methods: children fine-tune this long from their parent's "
                         "float weights (default: every network from scratch)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="where networks train and validate: cpu, cuda or auto")
    ap.add_argument("--batch-size", type=int, default=64, help="training batch size (learning rate 0.1 whatever it is)")
    ap.add_argument("--data", choices=("digits", "fashion_mnist"), default="digits")
    ap.add_argument("--subset", type=float, default=1.0, help="share of the dataset's training images used")
    ap.add_argument("--target-mb", type=float, default=None,
                    help="JASQ size target T of the quantized model (default: mean of the initial population)")
    ap.add_argument("--beta", type=float, default=-0.07, help="JASQ exponent above the target (alpha stays -0.07)")
    ap.add_argument("--bits", default="2,4,8,16,32",
                    help="bit set of the searches and of the uniform baselines (JASQ code default: 4,8,16)")
    ap.add_argument("--selection", choices=("pareto", "fitness"), default="pareto")
    ap.add_argument("--init", choices=INITS, default="uniform_bits",
                    help="initial population of (a) and (b): JASQ's per-unit random bits (random), random "
                         "architectures with one bit-width per member (uniform_bits), or the same with the "
                         "architectures spread over the parameter count of many random draws (size_spread)")
    ap.add_argument("--quantize-top", type=int, default=3,
                    help="Q: architectures of the arch-search front quantized uniformly in (b)")
    ap.add_argument("--seed-fixed", action="store_true",
                    help="put the fixed architecture of (c) into the initial populations of (a) and (b) too "
                         "(same prior knowledge for all three methods)")
    ap.add_argument("--uniform-moves", action=argparse.BooleanOptionalAction, default=True,
                    help="joint mutation may also set every bit gene to one bit-width (the fixed-arch search starts "
                         "from every uniform policy and (b) quantizes uniformly, so the joint search gets the same move); "
                         "the joint mutation then draws its group (architecture / one unit's bits / all bits) first")
    args = ap.parse_args()
    bits = tuple(sorted(int(b) for b in args.bits.split(",")))
    low_bits = [b for b in bits if b != 32]
    n_uniform = args.quantize_top * len(low_bits)
    if args.evaluations <= n_uniform + 8:
        ap.error(f"--evaluations must exceed {n_uniform + 8} (uniform evaluations of (b) + its initial population)")
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)  # one thread: far faster than two on a shared, oversubscribed CPU
    try:
        device = str(resolve_device(args.device))
    except ConfigError as err:
        ap.error(f"--device: {err}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    splits = load_dataset(DatasetConfig(name=args.data, val_fraction=0.2, subset_fraction=args.subset), args.seed,
                          device)  # on the GPU when training there
    train_cfg = TrainConfig(lr=0.1, batch_size=args.batch_size)
    base = get_space("block", **BASE, stem_stride=1 if args.data == "digits" else 2)
    search = {"strategy": "rea", "population": 8, "sample": 3, "evaluations": args.evaluations}
    qs = QuantSettings(bits=bits, granularity="block", alpha=-0.07, beta=args.beta, target_mb=args.target_mb,
                       search=search)
    points: dict[str, list[tuple[float, float]]] = {}
    times, trainings, evals = {}, {}, {}
    cache: dict = {}  # base architecture -> trained float network: identical training, shared to save time

    seeded = [base.preset("tiny")] if args.seed_fixed else []
    if seeded and args.init == "random":
        ap.error("--seed-fixed needs --init uniform_bits or size_spread")
    t = time.time()
    joint = QuantSpace(base, bits=bits, granularity="block", uniform_moves=args.uniform_moves)
    res_a, ev_a = run_joint_search(joint, splits, qs, args.epochs, train_cfg, args.seed, out / "joint",
                                   selection=args.selection, init=args.init, cache=cache, init_archs=seeded,
                                   grouped=args.uniform_moves, child_epochs=args.child_epochs, device=device)
    points["joint"] = [(r.result.metrics["accuracy"], r.result.metrics["size_mb"]) for r in res_a.records if r.ok]
    times["joint"] = time.time() - t
    trainings["joint"] = _networks(joint, res_a, args.child_epochs is not None)
    evals["joint"] = len(res_a.records)

    t = time.time()
    arch_only = QuantSpace(base, bits=(32,), granularity="block", unit_names=joint.unit_names)
    # the architecture-only search sees float sizes: its target is 4 T (float size of an 8-bit model of size T)
    qs_b = QuantSettings(bits=(32,), granularity="block", alpha=-0.07, beta=args.beta,
                         target_mb=4 * args.target_mb if args.target_mb else None,
                         search={**search, "evaluations": args.evaluations - n_uniform})
    res_b, ev_b = run_joint_search(arch_only, splits, qs_b, args.epochs, train_cfg, args.seed, out / "arch_then_uniform",
                                   selection=args.selection, init=args.init,
                                   cache=cache, init_archs=seeded, child_epochs=args.child_epochs, device=device)
    ok_b = [r for r in res_b.records if r.ok]
    float_pts = [(r.result.metrics["accuracy"], r.result.metrics["size_mb"]) for r in ok_b]
    front_b = pareto_front(float_pts)  # sorted by size
    q = min(args.quantize_top, len(front_b))
    chosen = {front_b[round(i * (len(front_b) - 1) / max(q - 1, 1))] for i in range(q)}
    for i in sorted(range(len(ok_b)), key=lambda i: -float_pts[i][0]):  # a short front: fill with the most accurate
        if len(chosen) >= args.quantize_top:
            break
        chosen.add(i)
    chosen = sorted(chosen)
    pts_b = list(float_pts) if 32 in bits else []
    for i in chosen:
        model_b = ev_b.network_of(ok_b[i])  # its own weights (inherited + fine-tuned, or from scratch)
        for b in low_bits:
            pol = uniform_policy(model_b, b)
            pts_b.append((evaluate(quantize_model(model_b, pol).to(device), splits.val, device)[0],
                          model_size(model_b, pol).mb))
    points["arch search, then uniform"] = pts_b
    times["arch search, then uniform"] = time.time() - t
    trainings["arch search, then uniform"] = _networks(arch_only, res_b, args.child_epochs is not None)
    evals["arch search, then uniform"] = len(res_b.records) + len(chosen) * len(low_bits)

    t = time.time()
    tiny = base.preset("tiny")
    if args.child_epochs is None:
        fixed, _, fresh = ev_a.float_model(tiny)
        _, res_c = run_policy_search(fixed, lambda m: evaluate(m.to(device), splits.val, device)[0], qs,
                                     out / "fixed_arch", args.seed, selection=args.selection)
        trainings["fixed arch, quant search"] = 1
    else:  # the joint machinery with the architecture frozen: the same inheritance protocol
        frozen = QuantSpace(base, bits=bits, granularity="block", unit_names=joint.unit_names,
                            uniform_moves=args.uniform_moves, fixed_base=tiny)
        members = [InitCandidate(frozen.with_bits(tiny, b)) for b in bits]
        res_c, _ = run_joint_search(frozen, splits, qs, args.epochs, train_cfg, args.seed, out / "fixed_arch",
                                    selection=args.selection, cache=cache, grouped=args.uniform_moves,
                                    child_epochs=args.child_epochs, init_members=members, device=device)
        trainings["fixed arch, quant search"] = _networks(frozen, res_c, True)
    points["fixed arch, quant search"] = [(r.result.metrics["accuracy"], r.result.metrics["size_mb"])
                                          for r in res_c.records if r.ok]
    times["fixed arch, quant search"] = time.time() - t
    evals["fixed arch, quant search"] = len(res_c.records)

    ref_cost = 1.1 * max(c for pts in points.values() for _, c in pts)
    summary = {}
    print(f"\n{args.data} (subset {args.subset:g}: {len(splits.train)} train, {len(splits.val)} val images), "
          f"{args.evaluations} evaluations per method, {args.epochs:g} epochs per trained network, "
          f"{'children inherit + ' + format(args.child_epochs, 'g') + ' epochs, ' if args.child_epochs is not None else ''}"
          f"selection {args.selection}, uniform moves {args.uniform_moves}, init {args.init}{' + fixed arch' if seeded else ''}, bits {list(bits)}; hypervolume reference: accuracy 10 %, "
          f"size {ref_cost:.4f} MB; primary HV over log10(size) (sizes span orders of magnitude), linear-size HV also shown")
    for name, pts in points.items():
        front = [pts[i] for i in pareto_front(pts)]
        hv_log = hypervolume([(a, math.log10(c)) for a, c in pts], ref_cost=math.log10(ref_cost), ref_acc=10.0)
        hv_lin = hypervolume(pts, ref_cost=ref_cost, ref_acc=10.0)
        summary[name] = {"hypervolume_log": hv_log, "hypervolume_linear": hv_lin, "front": front, "points": len(pts),
                         "trainings": trainings[name], "evaluations": evals[name], "wall_s": times[name]}
        print(f"{name:<28} HV(log) {hv_log:8.3f}  HV(lin) {hv_lin:8.3f}  ({evals[name]} evaluations, {len(pts)} points, "
              f"{trainings[name]} trained networks, {len(front)} on the front, {times[name]:.0f}s)")
        for acc, size in front:
            print(f"    {size:8.4f} MB  {acc:6.2f} %")
    ok = all(summary["joint"]["hypervolume_log"] > v["hypervolume_log"] for k, v in summary.items() if k != "joint")
    ok_lin = all(summary["joint"]["hypervolume_linear"] > v["hypervolume_linear"]
                 for k, v in summary.items() if k != "joint")
    print(f"{'PASS' if ok else 'FAIL'}  joint HV(log size) > both two-step baselines")
    print(f"{'PASS' if ok_lin else 'FAIL'}  joint HV(linear size) > both two-step baselines")
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "methods": summary, "ref_cost": ref_cost,
                                                  "joint_wins_log": ok, "joint_wins_linear": ok_lin}, indent=2))
    _plot(out / "fronts.png", points, args.data)
    print(f"wrote {out / 'fronts.png'}, {out / 'summary.json'}")
    return 0 if ok else 1


def _networks(space: QuantSpace, result, inherits: bool) -> int:
    """Trainings among a search's evaluations: distinct base architectures (from scratch; the cache is
    shared between methods), or initial architectures + children (inheritance: every child fine-tunes)."""
    ok = [r for r in result.records if r.ok]
    if inherits:
        return len({space.base.canonical_key(space.decode(r.task.arch).base) for r in ok if r.task.init}) + \
            sum(1 for r in ok if not r.task.init)
    return len({space.base.canonical_key(space.decode(r.task.arch).base) for r in ok})


def _plot(path: Path, points: dict, title: str) -> None:
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
    ax.set_title(f"{title}: joint vs two-step search (Pareto fronts)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
