"""Throughput of ``train_model`` against a minimal hand-written PyTorch loop (same run, same everything).

Both loops train the same reference network (same initial weights) on the same in-memory tensors,
with the same batch size and the same SGD optimiser (momentum, Nesterov, weight decay). The trainer
runs with its defaults (label smoothing, cosine schedule, gradient clipping, NaN checks) and no
augmentation; its validation split is cut to one image so that the timed call is training only.
Rounds alternate between the two loops; medians of wall-clock and of process-CPU-time throughput
are compared (CPU time is the steadier figure on a machine shared with other jobs).

    python bench/trainer_overhead.py [--data digits|cifar] [--steps 60] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from eatnas.data import DatasetConfig, load_dataset
from eatnas.data.splits import TensorSplit
from eatnas.data.synthetic import random_splits
from eatnas.train import TrainConfig, train_model
from eatnas.train.refnet import RefNet


def baseline(model: torch.nn.Module, split: TensorSplit, cfg: TrainConfig, steps: int, seed: int) -> None:
    """A minimal loop: permuted indices, normalise, forward, cross-entropy, backward, SGD step.

    It uses the trainer's memory format (``cfg.channels_last``) so that the ratio measures loop overhead.
    """
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    mean = torch.tensor(split.mean).view(1, -1, 1, 1)
    std = torch.tensor(split.std).view(1, -1, 1, 1)
    scale = 255.0 if split.images.dtype == torch.uint8 else 1.0
    gen = torch.Generator().manual_seed(seed)
    n, bs = len(split), cfg.batch_size
    model.train()
    done = 0
    while done < steps:
        perm = torch.randperm(n, generator=gen)
        for i in range(min(n // bs, steps - done)):
            idx = perm[i * bs:(i + 1) * bs]
            x = ((split.images[idx].float() / scale - mean) / std).contiguous(memory_format=fmt)
            loss = F.cross_entropy(model(x), split.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
    loss.item()


def timed(fn: Callable[[], object], images: int) -> tuple[float, float]:
    """(wall-clock images/s, process-CPU-time images/s) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return images / (time.perf_counter() - wall), images / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["digits", "cifar"], default="digits")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.data == "digits":
        splits = load_dataset(DatasetConfig(name="digits", augment=False), seed=0)
        net = dict(widths=(16, 24), depths=(2, 2), kernels=(3, 3), strides=(1, 2))
    else:
        splits = random_splits(4096, 256)
        net = dict(widths=(16, 24, 32), depths=(1, 2, 2), kernels=(3, 3, 3), strides=(1, 2, 2))
    torch.manual_seed(0)
    initial = RefNet(splits.in_channels, splits.num_classes, **net)
    cfg = TrainConfig(batch_size=args.batch_size)
    assert splits.augment is None and isinstance(splits.train, TensorSplit)

    bench_splits = dataclasses.replace(splits, val=splits.train.take([0]), test=None)
    images = args.steps * args.batch_size

    def run_trainer() -> tuple[float, float]:
        return timed(lambda: train_model(copy.deepcopy(initial), bench_splits, steps=args.steps, cfg=cfg, seed=0),
                     images)

    def run_baseline() -> tuple[float, float]:
        return timed(lambda: baseline(copy.deepcopy(initial), splits.train, cfg, args.steps, seed=0), images)

    run_trainer(), run_baseline()  # warm-up
    ours, base = [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            ours.append(run_trainer())
            base.append(run_baseline())
        else:
            base.append(run_baseline())
            ours.append(run_trainer())
    print(f"data={splits.name} batch={args.batch_size} steps={args.steps} rounds={args.rounds} threads={args.threads}")
    for i, clock in enumerate(("wall-clock", "CPU-time")):
        b = statistics.median(v[i] for v in base)
        t = statistics.median(v[i] for v in ours)
        print(f"[{clock:10s}] hand-written loop {b:8.1f} img/s | train_model {t:8.1f} img/s | "
              f"ratio {t / b:.3f}   (rounds: {', '.join(f'{o[i] / x[i]:.2f}' for o, x in zip(ours, base))})")
    aug = load_dataset(DatasetConfig(name="digits"), seed=0) if args.data == "digits" else None
    if aug is not None:
        aug = dataclasses.replace(aug, val=aug.train.take([0]), test=None)
        w, c = timed(lambda: train_model(copy.deepcopy(initial), aug, steps=args.steps, cfg=cfg, seed=0), images)
        print(f"train_model with augmentation (one run): {w:.1f} img/s wall-clock, {c:.1f} img/s CPU-time")


if __name__ == "__main__":
    main()
