"""``eatnas data info NAME``: split sizes, classes and input shape of a dataset."""

from __future__ import annotations

import argparse
import json

from eatnas.data.config import DatasetConfig
from eatnas.data.registry import load_dataset
from eatnas.errors import ConfigError


def cmd_info(args: argparse.Namespace) -> int:
    if not 0 < args.val_fraction < 1:
        raise ConfigError(f"--val-fraction is {args.val_fraction}; use a number strictly between 0 and 1")
    cfg = DatasetConfig(name=args.name, root=args.root, download=args.download, val_fraction=args.val_fraction,
                        resolution=args.resolution)
    splits = load_dataset(cfg, args.seed)
    sizes = splits.sizes()
    info = {
        "name": splits.name, **sizes, "num_classes": splits.num_classes, "class_names": list(splits.class_names),
        "input_shape": [splits.in_channels, splits.resolution, splits.resolution], "in_memory": splits.in_memory,
        "val_fraction": cfg.val_fraction, "seed": args.seed,
    }
    if args.json:
        print(json.dumps(info))
        return 0
    pool = sizes["train"] + sizes["val"]
    print(f"dataset      {splits.name}")
    print(f"train        {sizes['train']}")
    print(f"val          {sizes['val']}  (held out of the {pool} training images, {cfg.val_fraction:g}, "
          f"stratified, seed {args.seed})")
    print(f"test         {sizes['test']}")
    print(f"input        {splits.in_channels}x{splits.resolution}x{splits.resolution}"
          f" ({'in memory' if splits.in_memory else 'read lazily from disk'})")
    print(f"classes      {splits.num_classes}: {', '.join(splits.class_names)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="inspect datasets")
    data_sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    info = data_sub.add_parser("info", help="split sizes and class names of a dataset")
    info.add_argument("name", help="dataset name (digits, fashion_mnist, cifar10, cifar100, imagefolder)")
    info.add_argument("--root", default=None, help="data directory (default: the dataset's default)")
    info.add_argument("--download", action="store_true", help="let torchvision download missing files")
    info.add_argument("--val-fraction", type=float, default=0.1, help="validation share of the training split")
    info.add_argument("--resolution", type=int, default=None, help="resize images to this size")
    info.add_argument("--seed", type=int, default=0)
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=cmd_info)
