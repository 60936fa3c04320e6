"""The transfer stage: scale the basic architecture, train it briefly on the large dataset (the
parent), generate offspring and let each inherit the parent's weights.

Outputs in ``out``: ``parent.pt``, ``checkpoints/<i>.pt`` (one inherited checkpoint per offspring)
and ``offspring.json`` (written last: marks completion).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import torch

from eatnas.errors import CheckpointError, EatnasError
from eatnas.space.base import Arch, SearchSpace
from eatnas.transfer.context import Task, decode_in_space, device_of, load_task, space_from_config, train_settings
from eatnas.transfer.inherit import adapt_across_tasks, silence_new_shortcuts
from eatnas.transfer.offspring import generate_offspring
from eatnas.transfer.scale import scale_to_target
from eatnas.transfer.settings import transfer_config
from eatnas.utils.io import read_json_object, write_json_atomic
from eatnas.utils.seed import derive_seed
from eatnas.version import code_version

log = logging.getLogger(__name__)


def read_basic(basic_dir: str | Path, space: SearchSpace) -> tuple[Arch, dict[str, Any], dict[str, Any]]:
    """The basic architecture, its ``basic.json`` and its small-dataset weights from a select directory."""
    from eatnas.train import load_checkpoint

    basic_dir = Path(basic_dir)
    path = basic_dir / "basic.json"
    info = read_json_object(path, "rerun `eatnas select`", missing=f"run `eatnas select --out {basic_dir}` first")
    if not isinstance(info.get("arch"), str):
        raise EatnasError(f"{path}: no 'arch' string; rerun `eatnas select`")
    arch = decode_in_space(space, info["arch"], str(path), info.get("space"))
    ckpt_path = basic_dir / "basic.pt"
    if not ckpt_path.is_file():
        raise CheckpointError(f"{ckpt_path}: missing; rerun `eatnas select --out {basic_dir}`")
    ckpt = load_checkpoint(ckpt_path)
    state = ckpt.get("model", ckpt.get("state_dict")) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{ckpt_path}: holds no model weights; rerun `eatnas select`")
    return arch, info, state


def parent_model(space: SearchSpace, arch: Arch, task: Task, small_state: Mapping[str, Any],
                 small_spec: Mapping[str, int], silence: bool = True) -> tuple[Any, Any]:
    """The basic architecture built for the large task, initialised from small-dataset weights."""
    from eatnas.train import inherit_weights

    model = space.build(arch, task.spec)
    state = adapt_across_tasks(small_state, model.state_dict(),
                               source_classes=int(small_spec["num_classes"]), target_classes=task.spec.num_classes,
                               source_channels=int(small_spec["in_channels"]), target_channels=task.spec.in_channels)
    report = inherit_weights(model, state)
    if silence:
        silence_new_shortcuts(model, report.initialised)
    return model, report


def report_counts(report: Any) -> dict[str, int]:
    """An ``InheritReport`` as plain counts (lists are counted)."""
    if dataclasses.is_dataclass(report):
        items = dataclasses.asdict(report).items()
    else:
        items = dict(report).items()
    return {k: (len(v) if isinstance(v, (list, tuple, set, dict)) else int(v)) for k, v in items}


def run_transfer(cfg: Mapping[str, Any], basic_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Run the transfer stage; returns the ``offspring.json`` content."""
    from eatnas.train import evaluate, inherit_weights, save_checkpoint, train_model

    start = time.perf_counter()
    tcfg = transfer_config(cfg)
    seed = int(cfg.get("seed", 0))
    space = space_from_config(cfg)
    basic, info, small_state = read_basic(basic_dir, space)
    task = load_task(cfg, "large", seed)
    device = device_of(cfg)
    scaled = scale_to_target(space, basic, task.spec, metric=tcfg.cost_metric, target=tcfg.cost_target,
                             max_steps=tcfg.scale_steps)
    # generated before any training so that an impossible setting fails fast
    children = generate_offspring(space, scaled.arch, tcfg.population, move_probability=tcfg.move_probability,
                                  max_distance=tcfg.max_distance, max_tries=tcfg.max_tries, seed=seed)
    small_spec = info.get("small_spec") or {"num_classes": task.spec.num_classes, "in_channels": task.spec.in_channels}
    out_dir = Path(out_dir)
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)

    torch.manual_seed(derive_seed(seed, "transfer", "parent"))  # weight initialisation; train_model seeds the rest
    parent, parent_report = parent_model(space, scaled.arch, task, small_state, small_spec,
                                         tcfg.silence_new_shortcuts)
    parent_metrics = train_model(parent, task.splits, epochs=tcfg.parent_epochs, cfg=train_settings(cfg),
                                 device=device, seed=derive_seed(seed, "transfer", "parent"), test=True)
    parent_str = space.encode(scaled.arch)
    save_checkpoint(out_dir / "parent.pt", parent, config=dict(cfg), arch=parent_str,
                    extra={"space": space.name, "metrics": parent_metrics.to_dict(),
                           "inherit_report": report_counts(parent_report)})
    parent_state = {k: v.detach().cpu() for k, v in parent.state_dict().items()}

    entries = []
    for i, child in enumerate(children):
        arch_str = space.encode(child.arch)
        model = space.build(child.arch, task.spec)
        report = inherit_weights(model, parent_state)
        inherit = report_counts(report)
        if tcfg.silence_new_shortcuts:
            inherit["silenced_shortcuts"] = len(silence_new_shortcuts(model, report.initialised))
        entry: dict[str, Any] = {"arch": arch_str, "checkpoint": str(out_dir / "checkpoints" / f"{i:03d}.pt"),
                                 "distance": child.distance, "moved": list(child.moved), "inherit_report": inherit}
        if tcfg.evaluate_offspring:
            acc, loss = evaluate(model.to(device), task.splits.val, device)
            entry["inherited_val_accuracy"], entry["inherited_val_loss"] = float(acc), float(loss)
        save_checkpoint(entry["checkpoint"], model, config=dict(cfg), arch=arch_str,
                        extra={"space": space.name, "basic": parent_str, "distance": child.distance})
        entries.append(entry)
        log.info("transfer: offspring %d %s (distance %d) %s", i, arch_str, child.distance, inherit)

    result = {
        "space": space.name,
        "basic": parent_str,
        "basic_small": info["arch"],
        "scaling": {"metric": tcfg.cost_metric, "target": tcfg.cost_target, "width_steps": scaled.width_steps,
                    "depth_steps": scaled.depth_steps, "params": scaled.cost.params, "macs": scaled.cost.macs,
                    "spec": dataclasses.asdict(task.spec)},
        "parent": {"checkpoint": str(out_dir / "parent.pt"), "metrics": parent_metrics.to_dict(),
                   "inherit_report": report_counts(parent_report)},
        "offspring": entries,
        "wall_time_s": time.perf_counter() - start,
        "config": dict(cfg),
        "code_version": code_version(),
    }
    write_json_atomic(out_dir / "offspring.json", result)
    return result
