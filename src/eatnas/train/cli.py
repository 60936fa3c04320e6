"""``eatnas train``: train one architecture of the configured space on one dataset for one budget."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from eatnas.config import from_dict, load_config, to_dict
from eatnas.errors import ArchStringError, ConfigError

log = logging.getLogger(__name__)


def cmd_train(args: argparse.Namespace) -> int:
    from eatnas.data import DatasetConfig, load_dataset
    from eatnas.space.base import BuildSpec, space_from_section
    from eatnas.train.checkpoint import load_checkpoint, save_checkpoint
    from eatnas.train.config import TrainConfig
    from eatnas.train.inherit import inherit_weights
    from eatnas.train.trainer import train_model
    from eatnas.utils.device import resolve_device, set_threads
    from eatnas.utils.io import write_json_atomic
    from eatnas.version import code_version

    if (args.epochs is None) == (args.steps is None):
        raise ConfigError("give exactly one of --epochs E or --steps N")
    if (args.epochs is not None and args.epochs < 0) or (args.steps is not None and args.steps < 0):
        raise ConfigError("--epochs/--steps must not be negative")
    cfg = load_config(args.config)
    seed = int(cfg["seed"] if args.seed is None else args.seed)
    set_threads(int(cfg["threads"]))
    device = resolve_device(cfg["device"])
    space, _ = space_from_section(cfg["space"])
    if (args.arch is None) == (args.preset is None):
        raise ConfigError(f"give exactly one of --arch STRING or --preset NAME (presets: {sorted(space.presets)})")
    arch = space.preset(args.preset) if args.preset else space.decode(args.arch)
    try:
        space.validate(arch)
    except ValueError as exc:
        raise ArchStringError(f"{exc}; give a valid {space.name!r} architecture") from None
    data_cfg = from_dict(DatasetConfig, cfg["data"][args.dataset], f"data.{args.dataset}")
    splits = load_dataset(data_cfg, seed, device)
    model = space.build(arch, BuildSpec(splits.num_classes, splits.resolution, splits.in_channels))
    if args.init:
        report = inherit_weights(model, load_checkpoint(args.init)["model"])
        log.info("inherited from %s: %s", args.init, report)
    tcfg = from_dict(TrainConfig, cfg["train"], "train")
    metrics = train_model(model, splits, epochs=args.epochs, steps=args.steps, cfg=tcfg, device=device, seed=seed,
                          progress=True, test=True)
    record = {"arch": space.encode(arch), "space": space.name, "dataset": args.dataset, "metrics": metrics.to_dict(),
              "seed": seed, "code_version": code_version(), "config": cfg}
    if args.out:
        out = Path(args.out)
        save_checkpoint(out / "model.pt", model, config=cfg, arch=record["arch"],
                        extra={"metrics": metrics.to_dict(), "train": to_dict(tcfg)})
        write_json_atomic(out / "metrics.json", record)
    print(json.dumps({k: v for k, v in record.items() if k != "config"}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train one architecture for one budget")
    parser.add_argument("--config", default=None, help="pipeline YAML config (defaults when omitted)")
    parser.add_argument("--arch", default=None, help="architecture string of the configured space")
    parser.add_argument("--preset", default=None, help="a preset architecture of the space instead of --arch")
    parser.add_argument("--dataset", choices=["small", "large"], default="small", help="data.small or data.large")
    parser.add_argument("--epochs", type=float, default=None, help="training epochs (fractional allowed)")
    parser.add_argument("--steps", type=int, default=None, help="training steps instead of epochs")
    parser.add_argument("--init", default=None, help="checkpoint to inherit weights from (shapes adapted)")
    parser.add_argument("--seed", type=int, default=None, help="override the config seed")
    parser.add_argument("--out", default=None, help="directory for model.pt and metrics.json")
    parser.set_defaults(func=cmd_train)

