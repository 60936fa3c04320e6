"""Sub-commands ``quant search | apply | size``."""

from __future__ import annotations

import argparse
import json

from eatnas.quant.quantizers import check_bits


def register(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser("quant", help="bit-policy search (JASQ), evaluation of quantized exports, model sizes")
    qsub = q.add_subparsers(dest="quant_command", metavar="QUANT_COMMAND", required=True)

    p = qsub.add_parser("search", help="search a per-layer bit policy for a trained network")
    p.add_argument("--config", required=True, help="pipeline config (YAML); uses the quant, data.large, train sections")
    p.add_argument("--out", required=True, help="output folder: policy.json, frontier.csv, history.jsonl, best.json")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--search", help="architecture search folder: quantize the best architecture of its best.json")
    src.add_argument("--net", help="a fixed network: resnet18, mobilenet_v2 or space:preset (e.g. block:tiny)")
    p.add_argument("--checkpoint", help="float weights of the network (default: best.json's, or train quant.net_epochs)")
    p.set_defaults(func=_search)

    p = qsub.add_parser("joint", help="joint architecture + bit-width search (JASQ): Pareto front, best exported")
    p.add_argument("--config", required=True, help="pipeline config (YAML); uses space, quant, train and data.<--data>")
    p.add_argument("--out", required=True, help="output folder: history.jsonl, frontier.csv, policy.json, quantized.pt, "
                                                "best.json (a rerun resumes)")
    p.add_argument("--data", default="large", choices=["large", "small"], help="which data section to search on")
    p.set_defaults(func=_joint)

    p = qsub.add_parser("apply", help="test accuracy and size of an exported quantized model")
    p.add_argument("--model", required=True, help="quantized.pt written by 'quant search'")
    p.add_argument("--policy", required=True, help="policy.json written by 'quant search'")
    p.add_argument("--data", required=True, help="dataset name (its test split is evaluated)")
    p.add_argument("--config", help="pipeline config (YAML) for dataset options")
    p.set_defaults(func=_apply)

    p = qsub.add_parser("size", help="model size with every conv/linear weight at B bits")
    p.add_argument("--net", required=True, help="resnet18, mobilenet_v2 or space:preset")
    p.add_argument("--bits", required=True, type=int, help="bit-width (2..16, 32 = float)")
    p.add_argument("--data", help="dataset the net is built for (default: ImageNet shape 224x224x3, 1000 classes)")
    p.add_argument("--format", default="packed", choices=["packed", "huffman"], help="size accounting")
    p.add_argument("--scheme", default="per_channel", choices=["per_channel", "bucket256"])
    p.set_defaults(func=_size)


def _search(args: argparse.Namespace) -> int:
    from eatnas.quant.stage import run_search

    summary = run_search(args.config, args.out, args.search, args.net, args.checkpoint)
    print(json.dumps({k: summary[k] for k in ("arch", "fitness", "metrics", "baselines", "target_mb")}, indent=2))
    return 0


def _joint(args: argparse.Namespace) -> int:
    from eatnas.quant.joint_stage import run_joint_stage

    summary = run_joint_stage(args.config, args.out, args.data)
    print(json.dumps({k: summary[k] for k in ("arch", "bits", "fitness", "metrics", "size_mb", "evaluations")}, indent=2))
    return 0


def _apply(args: argparse.Namespace) -> int:
    from eatnas.quant.stage import run_apply

    print(json.dumps(run_apply(args.model, args.policy, args.data, args.config), indent=2))
    return 0


def _size(args: argparse.Namespace) -> int:
    from eatnas.quant.stage import run_size

    check_bits(args.bits, where="--bits")
    print(json.dumps(run_size(args.net, args.bits, args.data, args.format, args.scheme), indent=2))
    return 0
