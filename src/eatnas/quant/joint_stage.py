"""``eatnas quant joint``: JASQ's joint architecture + bit-width search as a pipeline stage.

One evolution over :class:`eatnas.space.quant.QuantSpace` genes (the configured ``space`` plus one
bit-width per unit of ``quant.joint_granularity`` (default ``block``, JASQ's per-block genome) from
``quant.bits``), budget ``quant.search``, on
``data.large`` (or ``data.small``). Each candidate's network trains in float for ``quant.joint_epochs``
(cached per architecture) or, with ``quant.joint_child_epochs`` set, children inherit their parent's
float weights and train that long (JASQ; float checkpoints under ``checkpoints/`` so a rerun resumes);
the network is post-training quantized with its bits and validated; parents come from
the Pareto set of every evaluation (:class:`eatnas.quant.pareto.ParetoEvolution`), the initial members
each have one bit-width for all units and a mutation may set every unit to one bit-width (the settings
``bench/quant_joint.py`` found best). The JASQ fitness ``acc * (size/T)^w`` picks the reported best.

Outputs under ``--out``: ``history.jsonl`` + ``state/`` (a rerun of the same command replays them and
continues), ``frontier.csv`` (every evaluation, Pareto flag), ``policy.json`` and ``quantized.pt`` of the
best (its network trained again from the same seed, so ``eatnas quant apply`` evaluates the exported
files; with inheritance its saved float weights), ``quantized.onnx`` when onnx is installed, and
``best.json`` (written last).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Mapping

import torch

from eatnas.config import load_config
from eatnas.errors import ConfigError
from eatnas.quant.apply import quantize_model
from eatnas.quant.errors import QuantError
from eatnas.quant.export import export_onnx_if_available, export_quantized, write_policy_json
from eatnas.quant.joint import run_joint_search
from eatnas.quant.nets import space_net_meta
from eatnas.quant.policy import average_bits
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import float_size_mb, model_size
from eatnas.search.engine import SearchResult
from eatnas.search.fitness import pareto_front
from eatnas.search.history import SearchHistory, fingerprint
from eatnas.space.quant import QuantSpace
from eatnas.utils.io import write_json_atomic
from eatnas.utils.seed import derive_seed

log = logging.getLogger(__name__)
FRONTIER_KEYS = ["index", "accuracy", "float_accuracy", "size_mb", "avg_bits", "params", "fitness", "pareto",
                 "best", "arch", "bits"]


def joint_rows(space: QuantSpace, result: SearchResult) -> list[dict[str, Any]]:
    """Every successful evaluation: metrics, base architecture, bits per unit, Pareto and best flags."""
    ok = [r for r in result.records if r.ok]
    front = set(pareto_front([(r.result.metrics["accuracy"], r.result.metrics["size_mb"]) for r in ok]))
    best = result.best()
    rows = []
    for i, r in enumerate(ok):
        arch, m = space.decode(r.task.arch), r.result.metrics
        rows.append({"index": r.task.index, "accuracy": m["accuracy"], "float_accuracy": m.get("float_accuracy"),
                     "size_mb": m["size_mb"], "avg_bits": m.get("avg_bits"), "params": m.get("params"),
                     "fitness": r.fitness, "pareto": i in front, "best": r is best,
                     "arch": space.base.encode(arch.base), "bits": ",".join(str(b) for b in arch.bits)})
    return rows


def write_joint_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FRONTIER_KEYS, extrasaction="ignore")
        w.writeheader()
        for row in sorted(rows, key=lambda r: r["size_mb"]):
            w.writerow(row)


def joint_splits(cfg: Mapping[str, Any], which: str, device: str | None = None):
    """The ``data.<which>`` splits, held on ``device`` when it is a GPU (and the section's ``on_device``)."""
    from eatnas.data import DatasetConfig, load_dataset

    if which not in ("small", "large"):
        raise ConfigError(f"--data {which!r} is unknown; choose small or large (the config's data sections)")
    return load_dataset(DatasetConfig(**dict(cfg["data"][which])), int(cfg["seed"]), device)


def run_joint_stage(config: str, out: str, data: str = "large") -> dict[str, Any]:
    """Run (or resume) the joint search; see the module docstring for the outputs."""
    from eatnas.config import from_dict
    from eatnas.search.stage import space_from_config
    from eatnas.train import TrainConfig, evaluate
    from eatnas.utils.device import resolve_device, set_threads
    from eatnas.version import code_version

    cfg = load_config(config)
    qs = QuantSettings.from_config(cfg["quant"])
    set_threads(int(cfg["threads"]))
    device = str(resolve_device(cfg["device"]))
    base, base_options = space_from_config(cfg)
    seed = derive_seed(int(cfg["seed"]), "quant-joint")
    space = QuantSpace(base, bits=qs.bits, granularity=qs.joint_granularity, keep_float=qs.keep_float,
                       uniform_moves=True, seed=seed)
    splits = joint_splits(cfg, data, device)
    train_cfg = from_dict(TrainConfig, cfg["train"], "train")
    epochs = float(qs.joint_epochs)
    child_epochs = None if qs.joint_child_epochs is None else float(qs.joint_child_epochs)
    out_dir = Path(out)
    fp = fingerprint({"stage": "quant_joint", "seed": seed, "space": {"name": base.name, **base_options},
                      "data": cfg["data"][data], "train": cfg["train"], "quant": {**cfg["quant"], "search": {
                          k: v for k, v in cfg["quant"]["search"].items() if k not in ("wall_time_s", "workers")}},
                      "device": device})
    history = SearchHistory(out_dir, fp, {"stage": "quant_joint", "space": space.name,
                                          "code_version": code_version()}).open()
    if qs.act_bits is not None or qs.finetune_epochs > 0:
        log.warning("the joint search quantizes weights only, after float training (PTQ): quant.act_bits and "
                    "quant.finetune_epochs apply to `eatnas quant search`, not here")
    log.info("joint search over %s + %d bit units (%s) on data.%s, %g float epochs per network%s",
             base.name, len(space.unit_names), qs.joint_granularity, data, epochs,
             "" if child_epochs is None else f" from scratch, children inherit and train {child_epochs:g}")
    result, evaluator = run_joint_search(
        space, splits, qs, epochs, train_cfg, seed, selection="pareto", init="uniform_bits", grouped=True,
        device=device, resume=history, child_epochs=child_epochs,
        checkpoint_dir=out_dir / "checkpoints",  # written only when children inherit
        on_record=lambda r: log.info("candidate %d %s: %s fitness=%s", r.task.index, r.task.arch, r.result.status,
                                     r.fitness))
    best = result.best()
    if best is None:
        raise QuantError(f"{out_dir}: every joint evaluation failed (see history.jsonl); check the data and budget")
    rows = joint_rows(space, result)
    write_joint_csv(out_dir / "frontier.csv", rows)

    arch = space.decode(best.task.arch)
    model = evaluator.network_of(best)  # its own weights, or retrained from its seed after a resume
    policy = space.policy(arch, model)
    quantized = quantize_model(model, policy, qs.scheme)
    with torch.no_grad():
        exported_acc = evaluate(quantized.to(device), splits.val, device, int(cfg["train"]["eval_batch_size"]))[0]
    quantized.to("cpu")  # exported from the CPU
    arch_text = base.encode(arch.base)
    meta = {**space_net_meta(base.name, arch_text, base_options, evaluator.spec),
            "trained_epochs": best.result.metrics.get("epochs", epochs), "policy_arch": best.task.arch}
    spec = meta["spec"]
    metrics = {**best.result.metrics, "accuracy_exported": exported_acc}
    write_policy_json(out_dir / "policy.json", model, policy, qs.scheme,
                      {"arch": best.task.arch, "net": meta, "metrics": metrics})
    export_quantized(out_dir / "quantized.pt", quantized, policy, qs.scheme, meta=meta)
    onnx = export_onnx_if_available(out_dir / "quantized.onnx", quantized, spec)
    front, hv = result.pareto()
    summary = {
        "stage": "quant_joint", "data": data, "arch": arch_text, "joint_arch": best.task.arch,
        "bits": dict(zip(space.unit_names, arch.bits)), "fitness": best.fitness, "metrics": metrics,
        "avg_bits": average_bits(model, policy), "size_mb": model_size(model, policy, qs.scheme, qs.size_format).mb,
        "float_size_mb": float_size_mb(model), "target_mb": result.fitness.target,
        "pareto": [{"arch": r.task.arch, "accuracy": r.result.metrics["accuracy"],
                    "size_mb": r.result.metrics["size_mb"]} for r in front],
        "hypervolume": hv, "evaluations": result.evaluations, "networks_trained": evaluator.trainings,
        "stopped": result.stopped, "onnx": onnx, "history": str(out_dir / "history.jsonl"), "config": cfg,
        "code_version": code_version(),
    }
    write_json_atomic(out_dir / "best.json", summary)
    return summary
