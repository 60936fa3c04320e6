"""``train_model`` (SGD + cosine, label smoothing, clipping, bf16 on CUDA) and ``evaluate``."""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from eatnas.data.splits import DataSplits, Split
from eatnas.errors import EatnasError
from eatnas.train.batches import steps_per_epoch, train_batches
from eatnas.train.config import TrainConfig
from eatnas.train.macs import count_macs, count_params
from eatnas.train.metrics import Metrics
from eatnas.train.optim import cosine_factor, make_optimizer
from eatnas.train.resume import load_train_state, resume_key, save_train_state
from eatnas.utils.seed import derive_seed

log = logging.getLogger(__name__)


class TrainingDiverged(EatnasError):
    """The training loss became NaN or infinite (``step`` is the first step where this was seen)."""

    def __init__(self, step: int, loss: float) -> None:
        self.step = step
        self.loss = loss
        super().__init__(f"training diverged: loss is {loss} by step {step}; lower train.lr or set train.grad_clip")


def _autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate(model: nn.Module, split: Split, device: torch.device | str, batch_size: int = 512, *,
             amp: bool = False, channels_last: bool = False) -> tuple[float, float]:
    """Top-1 accuracy (%) and mean cross-entropy of ``model`` on ``split`` (model mode is restored)."""
    device = torch.device(device)
    if len(split) == 0:
        return float("nan"), float("nan")
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    fmt = torch.channels_last if channels_last else None
    try:
        with torch.inference_mode(), _autocast(device, amp):
            for x, y in split.eval_batches(batch_size, device):
                if fmt is not None:
                    x = x.contiguous(memory_format=fmt)
                out = model(x).float()
                loss_sum += nn.functional.cross_entropy(out, y, reduction="sum").double()
                correct += (out.argmax(1) == y).sum()
    finally:
        model.train(was_training)
    n = len(split)
    return 100.0 * correct.item() / n, loss_sum.item() / n


def train_model(model: nn.Module, splits: DataSplits, *, epochs: float | None = None, steps: int | None = None,
                cfg: TrainConfig | None = None, device: torch.device | str = "cpu", seed: int = 0,
                progress: bool = False, lr_scale: float = 1.0, lr_multipliers: Mapping[str, float] | None = None,
                test: bool = False, resume: str | Path | None = None) -> Metrics:
    """Train ``model`` in place for ``epochs`` (fractional allowed) or ``steps`` and evaluate it.

    One step is one batch of ``cfg.batch_size`` training images; an epoch is
    ``len(train) // batch_size`` steps. ``epochs=0`` / ``steps=0`` only evaluates. The learning
    rate is ``cfg.lr * lr_scale`` (times ``lr_multipliers[name]`` per parameter), decayed per step
    along a cosine to 0. ``test=True`` also evaluates the test split. Same seed, same result on CPU.
    Raises :class:`TrainingDiverged` when the loss becomes NaN/inf.

    ``resume``: a file where the optimisation state is saved after every epoch (progress is logged at
    INFO); a later call with the same arguments continues from it and ends with the same weights as an
    uninterrupted run (on CPU). The caller deletes it once the run's outputs are written.
    """
    if (epochs is None) == (steps is None):
        raise ValueError("pass exactly one of epochs= or steps=")
    cfg = cfg or TrainConfig()
    device = torch.device(device)
    start = time.perf_counter()
    per_epoch = steps_per_epoch(splits, cfg.batch_size)
    total = int(steps) if steps is not None else int(round(float(epochs) * per_epoch))  # type: ignore[arg-type]
    if total < 0:
        raise ValueError(f"negative training budget: epochs={epochs} steps={steps}")
    if epochs is not None and epochs > 0:
        total = max(total, 1)
    fmt = torch.channels_last if cfg.channels_last else None
    model.to(device)
    if fmt is not None:
        model.to(memory_format=fmt)
    torch.manual_seed(derive_seed(seed, "train"))  # dropout and other in-model randomness
    train_loss, images = _fit(model, splits, total, cfg, device, seed, fmt, progress, lr_scale, lr_multipliers,
                              resume)
    train_time = time.perf_counter() - start
    acc, loss = evaluate(model, splits.val, device, cfg.eval_batch_size, amp=cfg.amp, channels_last=cfg.channels_last)
    test_acc = test_loss = None
    if test and splits.test is not None:
        test_acc, test_loss = evaluate(model, splits.test, device, cfg.eval_batch_size,
                                       amp=cfg.amp, channels_last=cfg.channels_last)
    macs = count_macs(model, (splits.in_channels, splits.resolution, splits.resolution), device)
    return Metrics(
        accuracy=acc, loss=loss, test_accuracy=test_acc, test_loss=test_loss,
        wall_time_s=time.perf_counter() - start, images_per_s=images / train_time if images else 0.0,
        params=count_params(model), macs=macs, epochs=total / per_epoch if per_epoch else 0.0,
        steps=total, train_loss=train_loss,
    )


def _fit(model: nn.Module, splits: DataSplits, total: int, cfg: TrainConfig, device: torch.device, seed: int,
         fmt: torch.memory_format | None, progress: bool, lr_scale: float,
         lr_multipliers: Mapping[str, float] | None, resume: str | Path | None = None) -> tuple[float, int]:
    """The optimisation loop; returns (mean training loss, images seen)."""
    if total == 0:
        return float("nan"), 0
    optimizer = make_optimizer(model, cfg, lr_scale, lr_multipliers)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    per_epoch = steps_per_epoch(splits, cfg.batch_size)
    key = resume_key(model, splits, total, cfg, seed, lr_scale, lr_multipliers) if resume is not None else ""
    restored = load_train_state(resume, key, model, optimizer) if resume is not None else None
    start = restored.step if restored is not None else 0
    params = [p for g in optimizer.param_groups for p in g["params"]]
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    check_every = 20 if device.type == "cuda" else 1  # a NaN check syncs the GPU
    bar = _progress_bar(total) if progress else None
    if bar is not None:
        bar.update(start)
    loss_sum = torch.zeros((), dtype=torch.float32, device=device)
    checked_sum, images = 0.0, 0
    if restored is not None:
        loss_sum += restored.loss_sum
        checked_sum = restored.loss_sum  # images counts this process's images only (speed figures)
    model.train()
    step, epoch_start, epoch_images = start, time.perf_counter(), images
    try:
        for step, (x, y) in enumerate(train_batches(splits, cfg.batch_size, total, seed, device, start), start):
            factor = cosine_factor(step, total)
            for group, lr0 in zip(optimizer.param_groups, base_lrs):
                group["lr"] = lr0 * factor
            if fmt is not None:
                x = x.contiguous(memory_format=fmt)
            with _autocast(device, cfg.amp):
                out = model(x)
            loss = criterion(out.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip is not None:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            loss_sum += loss.detach()
            images += y.shape[0]
            if (step + 1) % check_every == 0 or step + 1 == total:
                checked_sum = loss_sum.item()
                if not math.isfinite(checked_sum):
                    raise TrainingDiverged(step + 1, checked_sum)
                if bar is not None:
                    bar.set_postfix(loss=f"{checked_sum / (step + 1):.3f}", refresh=False)
            if bar is not None:
                bar.update(1)
            if resume is not None and (step + 1) % per_epoch == 0:
                checked_sum = loss_sum.item()
                elapsed = time.perf_counter() - epoch_start
                log.info("epoch %d/%d: mean train loss %.4f, %.0f img/s", (step + 1) // per_epoch,
                         math.ceil(total / per_epoch), checked_sum / (step + 1), (images - epoch_images) / elapsed)
                epoch_start, epoch_images = time.perf_counter(), images
                if step + 1 < total:
                    save_train_state(resume, key, step + 1, model, optimizer, checked_sum)
    finally:
        if bar is not None:
            bar.close()
    return checked_sum / (step + 1), images


def _progress_bar(total: int):
    """A tqdm bar on stderr when it is a terminal (never in logs)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="step", leave=False, dynamic_ncols=True, file=sys.stderr)
