"""The ``quant`` stages: bit-policy search on a trained network, evaluation of exported files, sizes.

``quant search`` outputs (under ``--out``): ``history.jsonl`` (one line per evaluated policy),
``frontier.csv`` (every policy: label, accuracy, size, Pareto flag), ``policy.json`` (the best policy,
one entry per layer), ``quantized.pt`` (its integer weights, see :mod:`eatnas.quant.export`),
``quantized.onnx`` (float graph with the dequantized weights, checked with onnxruntime) and
``best.json`` (written last: marks completion).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from eatnas.config import load_config
from eatnas.errors import CheckpointError
from eatnas.quant.apply import ActivationQuantizer, qat_finetune, quantize_model
from eatnas.quant.errors import QuantError
from eatnas.quant.export import (export_onnx_if_available, export_quantized, load_quantized, read_policy_json,
                                 read_quantized, write_policy_json)
from eatnas.quant.nets import build_net
from eatnas.quant.policy import average_bits, uniform_policy, validate_policy
from eatnas.quant.search import frontier_rows, run_policy_search, write_frontier_csv
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import float_size_mb, model_size
from eatnas.space.base import BuildSpec
from eatnas.utils.io import read_json_object, write_json_atomic
from eatnas.utils.seed import derive_seed, seed_everything

log = logging.getLogger(__name__)


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A model state dict from a checkpoint file (a bare state dict or ``{"model"|"state_dict": ...}``)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {str(p)!r} does not exist; pass the .pt written by training or search")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unreadable/truncated file
        raise CheckpointError(f"{p}: unreadable checkpoint ({exc.__class__.__name__}); re-create it") from None
    for key in ("model", "state_dict", "model_state"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            return data[key]
    if isinstance(data, dict) and all(isinstance(v, torch.Tensor) for v in data.values()):
        return data
    raise CheckpointError(f"{p}: no model state dict found (keys {sorted(data)[:5] if isinstance(data, dict) else '?'})")


def _best_of_search(search_dir: str | Path) -> tuple[str, str | None]:
    """``(architecture string, checkpoint path)`` of ``search_dir/best.json``."""
    path = Path(search_dir) / "best.json"
    data = read_json_object(path, "rerun the architecture search", error=QuantError,
                            missing="finish the architecture search first (or pass --net NAME)")
    best = data.get("best", data) if isinstance(data.get("best"), dict) else data
    arch = best.get("arch") or best.get("arch_string")
    if not isinstance(arch, str):
        raise QuantError(f"{path}: no 'arch' string in best.json; rerun the search stage")
    ckpt = best.get("checkpoint")
    if ckpt and not Path(ckpt).is_absolute() and not Path(ckpt).exists():
        ckpt = str(Path(search_dir) / ckpt)
    return arch, ckpt


def _splits(cfg: Mapping[str, Any], data_name: str | None = None):
    from eatnas.data import DatasetConfig, load_dataset

    section = dict(cfg["data"]["large"])
    if data_name is not None and data_name != section.get("name"):
        section = {"name": data_name}
    section["augment"] = section.get("augment", True)
    return load_dataset(DatasetConfig(**section), int(cfg["seed"]))


def _space_options(cfg: Mapping[str, Any]) -> dict:
    """The ``space`` options the configured space accepts (as the search stage passes them)."""
    from eatnas.space.base import space_from_section

    return space_from_section(cfg.get("space"))[1]


def _accuracy_fn(split: Any, device: str, batch_size: int):
    from eatnas.train.trainer import evaluate

    def acc(model: nn.Module) -> float:
        return evaluate(model, split, device, batch_size)[0]

    return acc


def prepare_model(cfg: Mapping[str, Any], splits: Any, search_dir: str | None, net: str | None,
                  checkpoint: str | None, device: str) -> tuple[nn.Module, dict]:
    """The trained float model to quantize, and the metadata needed to rebuild it."""
    from eatnas.train.config import TrainConfig
    from eatnas.train.trainer import train_model

    spec = BuildSpec(num_classes=splits.num_classes, input_size=splits.resolution, in_channels=splits.in_channels)
    if (search_dir is None) == (net is None):
        raise QuantError("pass exactly one of --search SEARCH_DIR or --net NAME")
    if search_dir is not None:
        arch, ckpt = _best_of_search(search_dir)
        name, options = f"{cfg['space']['name']}:{arch}", _space_options(cfg)
        checkpoint = checkpoint or ckpt
    else:
        name, options = str(net), {}
    model, canonical = build_net(name, spec, options)
    meta = {"net": name, "canonical": canonical, "space_options": options, "spec": spec.__dict__}
    if checkpoint:
        model.load_state_dict(load_state(checkpoint))
        meta["checkpoint"] = str(checkpoint)
    else:
        epochs = float(cfg["quant"]["net_epochs"])
        log.info("training %s in float for %g epochs (no checkpoint given)", name, epochs)
        train_cfg = TrainConfig(**{k: v for k, v in dict(cfg["train"]).items() if k in TrainConfig.__dataclass_fields__})
        train_model(model, splits, epochs=epochs, cfg=train_cfg, device=device, seed=derive_seed(cfg["seed"], "quant-net"))
        meta["trained_epochs"] = epochs
    return model.eval(), meta


def run_search(config: str, out: str, search_dir: str | None = None, net: str | None = None,
               checkpoint: str | None = None) -> dict:
    """``eatnas quant search``: see the module docstring for the outputs."""
    from eatnas.utils.device import resolve_device

    cfg = load_config(config)
    qs = QuantSettings.from_config(cfg["quant"])
    seed_everything(int(cfg["seed"]))
    device = str(resolve_device(cfg["device"]))
    torch.set_num_threads(int(cfg["threads"]))
    splits = _splits(cfg)
    model, meta = prepare_model(cfg, splits, search_dir, net, checkpoint, device)
    model = model.to(device)  # PTQ copies and their validation run on the job's device (GPU when it has one)
    acc_fn = _accuracy_fn(splits.val, device, int(cfg["train"]["eval_batch_size"]))
    if qs.act_bits is not None:
        acc_fn = _with_activation_quant(acc_fn, splits, qs.act_bits, int(cfg["seed"]), device)
    out_dir = Path(out)
    space, result = run_policy_search(model, acc_fn, qs, out_dir, seed=derive_seed(cfg["seed"], "quant-search"))
    best = result.best()
    if best is None:
        raise QuantError(f"{out_dir}: every policy evaluation failed (see history.jsonl); check the model and data")
    rows = frontier_rows(space, result)
    write_frontier_csv(out_dir / "frontier.csv", rows)
    arch = space.decode(best.task.arch)
    policy = space.policy(arch)
    final = model
    if qs.finetune_epochs > 0:
        final = _finetune(model, policy, splits, qs, cfg, device)
    else:
        final = quantize_model(model, policy, qs.scheme)
    metrics = dict(best.result.metrics)
    if qs.finetune_epochs > 0:
        metrics["accuracy_finetuned"] = acc_fn(final)
    final, model = final.cpu(), model.cpu()  # exported and checked (onnxruntime) on the CPU
    extra = {"arch": best.task.arch, "net": meta, "metrics": metrics}
    write_policy_json(out_dir / "policy.json", model, policy, qs.scheme, extra)
    export_quantized(out_dir / "quantized.pt", final, policy, qs.scheme, meta={**meta, "policy_arch": best.task.arch})
    onnx = export_onnx_if_available(out_dir / "quantized.onnx", final, meta["spec"])
    baselines = {r["label"]: {"accuracy": r["accuracy"], "size_mb": r["size_mb"]} for r in rows
                 if r["label"].startswith("uniform") or r["label"] == "float"}
    front, hv = result.pareto()
    from eatnas.version import code_version

    summary = {"arch": best.task.arch, "fitness": best.fitness, "metrics": metrics, "target_mb": result.fitness.target,
               "baselines": baselines, "float_size_mb": float_size_mb(model), "pareto": [r.task.arch for r in front],
               "hypervolume": hv, "evaluations": result.evaluations, "net": meta, "onnx": onnx, "config": cfg,
               "code_version": code_version()}
    write_json_atomic(out_dir / "best.json", summary)
    return summary


def _with_activation_quant(acc_fn: Any, splits: Any, act_bits: int, seed: int, device: str = "cpu"):
    """Wrap an accuracy function so that every conv/linear layer also sees fake-quantized inputs
    (per-tensor, ranges calibrated on 4 training batches of 64 images)."""
    from eatnas.train.batches import train_batches

    calib = list(train_batches(splits, 64, 4, derive_seed(seed, "act-calibration"), torch.device(device)))

    def acc(model: nn.Module) -> float:
        aq = ActivationQuantizer(model, uniform_policy(model, 8), act_bits).calibrate(calib).enable()
        try:
            return acc_fn(model)
        finally:
            aq.disable()

    return acc


def _finetune(model: nn.Module, policy: dict, splits: Any, qs: QuantSettings, cfg: Mapping[str, Any],
              device: str) -> nn.Module:
    from eatnas.train.batches import steps_per_epoch, train_batches

    bs = int(cfg["train"]["batch_size"])
    steps = max(1, int(round(qs.finetune_epochs * steps_per_epoch(splits, bs))))
    seed = derive_seed(cfg["seed"], "quant-finetune")
    return qat_finetune(model, policy, lambda: train_batches(splits, bs, steps, seed, torch.device(device)), 1,
                        qs.scheme, lr=float(cfg["train"]["lr"]) * 0.1, seed=seed)


def rebuild(header: Mapping[str, Any]) -> nn.Module:
    """The (float) architecture of an exported quantized model, from its header metadata."""
    meta = header.get("meta", {})
    if "net" not in meta or "spec" not in meta:
        raise QuantError("the quantized model carries no network description (meta.net/meta.spec); re-export it")
    model, _ = build_net(meta["net"], BuildSpec(**meta["spec"]), meta.get("space_options"))
    return model


def run_apply(model_path: str, policy_path: str, data: str, config: str | None = None) -> dict:
    """``eatnas quant apply``: test accuracy and size of an exported quantized model."""
    from eatnas.train.trainer import evaluate

    cfg = load_config(config)
    header, _ = read_quantized(model_path)
    model, header = load_quantized(rebuild(header), model_path)
    policy, scheme = read_policy_json(policy_path)
    policy = validate_policy(model, policy, source=str(policy_path))
    if policy != header["policy"] or scheme != header["scheme"]:
        raise QuantError(f"{policy_path}: policy differs from the one stored in {model_path}; pass the matching pair")
    splits = _splits(cfg, data)
    if splits.test is None:
        raise QuantError(f"dataset {data!r} has no test split; use a dataset with one")
    acc, loss = evaluate(model, splits.test, "cpu", int(cfg["train"]["eval_batch_size"]))
    size = model_size(model, policy, scheme, cfg["quant"]["size_format"])
    return {"test_accuracy": acc, "test_loss": loss, "size_mb": size.mb, "size": size.as_dict(),
            "float_size_mb": float_size_mb(model), "avg_bits": average_bits(model, policy),
            "model": str(model_path), "policy": str(policy_path), "data": data}


def run_size(net: str, bits: int, data: str | None = None, fmt: str = "packed", scheme: str = "per_channel") -> dict:
    """``eatnas quant size``: size of ``net`` with every conv/linear weight at ``bits`` (BN, biases float)."""
    spec = _spec_of(data)
    model, canonical = build_net(net, spec)
    policy = uniform_policy(model, bits)
    size = model_size(model, policy, scheme, fmt)
    return {"net": net, "canonical": canonical, "bits": bits, "size_mb": size.mb, "float_size_mb": float_size_mb(model),
            "params": sum(p.numel() for p in model.parameters()), "spec": spec.__dict__, **size.as_dict()}


_SPECS = {"digits": BuildSpec(10, 8, 1), "fashion_mnist": BuildSpec(10, 28, 1), "cifar10": BuildSpec(10, 32, 3),
          "cifar100": BuildSpec(100, 32, 3), "imagenet": BuildSpec(1000, 224, 3)}


def _spec_of(data: str | None) -> BuildSpec:
    if data is None:
        return _SPECS["imagenet"]
    if data not in _SPECS:
        raise QuantError(f"--data {data!r} is unknown for sizes; choose one of {sorted(_SPECS)}")
    return _SPECS[data]
