"""Final stage: train the search's best architecture from scratch, apply the bit policy (PTQ), export,
re-load the exported file and evaluate it.

Writes ``model.pt`` (float checkpoint), ``quantized.pt`` (packed integer weights, eatnas.quant.export)
and ``metrics.json`` (architecture, params, MACs, float and quantized test accuracy, size in MB, wall
time, resolved config, code version).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

from eatnas.config import from_dict, load_config
from eatnas.errors import EatnasError
from eatnas.utils.io import write_json_atomic
from eatnas.version import code_version

log = logging.getLogger(__name__)


def final_dataset(cfg: Mapping[str, Any]):
    """``data.large`` with ``final.subset_fraction`` (when set) as the training share."""
    from eatnas.data import DatasetConfig

    section = dict(cfg["data"]["large"])
    if cfg["final"].get("subset_fraction") is not None:
        section["subset_fraction"] = cfg["final"]["subset_fraction"]
    return from_dict(DatasetConfig, section, "data.large")


def best_architecture(search_dir: str | Path) -> str:
    """The architecture string of ``search_dir/best.json`` (top level or under ``best``)."""
    from eatnas.transfer.runs import read_best

    data = read_best(search_dir)
    best = data["best"] if isinstance(data.get("best"), dict) else data
    arch = best.get("arch")
    if not isinstance(arch, str):
        raise EatnasError(f"{Path(search_dir) / 'best.json'}: no 'arch' string; rerun the search stage")
    return arch


def run_final(config_path: str | Path, search_dir: str | Path, policy_path: str | Path,
              out_dir: str | Path) -> dict[str, Any]:
    """Run the final stage and return the metrics written to ``out_dir/metrics.json``."""
    import torch

    from eatnas.data import load_dataset
    from eatnas.quant.apply import ActivationQuantizer, quantize_model
    from eatnas.quant.export import export_quantized, load_quantized, read_policy_json
    from eatnas.quant.nets import space_net_meta
    from eatnas.quant.policy import average_bits
    from eatnas.quant.size import float_size_mb, model_size
    from eatnas.space.base import BuildSpec
    from eatnas.train import TrainConfig, evaluate, save_checkpoint, train_model
    from eatnas.search.stage import space_from_config
    from eatnas.transfer.context import decode_in_space, device_of
    from eatnas.utils.device import set_threads
    from eatnas.utils.seed import derive_seed, seed_everything

    start = time.perf_counter()
    cfg = load_config(config_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    policy, scheme = read_policy_json(policy_path)
    space, space_options = space_from_config(cfg)
    arch_text = best_architecture(search_dir)
    arch = decode_in_space(space, arch_text, str(Path(search_dir) / "best.json"))
    device = device_of(cfg)
    if cfg["final"].get("threads"):
        set_threads(int(cfg["final"]["threads"]))  # the final job usually runs alone: it may take more cores
    seed = derive_seed(int(cfg["seed"]), "final")
    splits = load_dataset(final_dataset(cfg), seed, device)
    spec = BuildSpec(num_classes=splits.num_classes, input_size=splits.resolution, in_channels=splits.in_channels)

    seed_everything(seed)
    model = space.build(arch, spec)
    tcfg = from_dict(TrainConfig, cfg["final"]["train"], "final.train")
    log.info("final training of %s for %s epochs on %s", arch_text, cfg["final"]["epochs"], splits.sizes())
    resume = out / "train_state.pt"  # saved after every epoch: a killed run continues where it stopped
    trained = train_model(model, splits, epochs=cfg["final"]["epochs"], cfg=tcfg, device=device, seed=seed,
                          test=True, resume=resume)
    model = model.cpu().eval()
    save_checkpoint(out / "model.pt", model, config=cfg, arch=arch_text,
                    extra={"test_accuracy": trained.test_accuracy, "val_accuracy": trained.accuracy})

    quantize_model(model, policy, scheme)  # validates that the policy covers exactly this model's layers
    net_meta = space_net_meta(space.name, arch_text, space_options, spec)  # `quant apply` rebuilds from it
    export_quantized(out / "quantized.pt", model, policy, scheme,
                     meta={**net_meta, "arch": arch_text, "space": space.name, "code_version": code_version()})
    reloaded, _header = load_quantized(space.build(arch, spec), out / "quantized.pt")
    reloaded = reloaded.to(device).eval()
    act_bits = cfg["quant"].get("act_bits")
    if act_bits:
        ActivationQuantizer(reloaded, policy, int(act_bits)).calibrate(
            splits.train.eval_batches(tcfg.eval_batch_size, device)).enable()
    with torch.no_grad():
        q_acc, q_loss = evaluate(reloaded, splits.test, device, tcfg.eval_batch_size)
    size = model_size(model, policy, scheme, cfg["quant"]["size_format"])

    metrics = {
        "arch": arch_text,
        "space": space.name,
        "spec": net_meta["spec"],
        "params": trained.params,
        "macs": trained.macs,
        "float_test_accuracy": trained.test_accuracy,
        "float_val_accuracy": trained.accuracy,
        "quantized_test_accuracy": q_acc,
        "quantized_test_loss": q_loss,
        "size_mb": size.mb,
        "size": size.as_dict(),
        "float_size_mb": float_size_mb(model),
        "file_size_mb": (out / "quantized.pt").stat().st_size / 1e6,
        "average_bits": average_bits(model, policy),
        "scheme": scheme,
        "act_bits": act_bits,
        "epochs": trained.epochs,
        "train_images": len(splits.train),
        "test_images": len(splits.test) if splits.test is not None else 0,
        "train": trained.to_dict(),
        "device": str(device),
        "search": str(search_dir),
        "policy": str(policy_path),
        "wall_time_s": time.perf_counter() - start,
        "config": cfg,
        "code_version": code_version(),
    }
    write_json_atomic(out / "metrics.json", metrics)
    resume.unlink(missing_ok=True)
    log.info("final: float test %.2f%%, quantized test %.2f%%, %.3f MB", trained.test_accuracy or float("nan"),
             q_acc, size.mb)
    return metrics
