"""``eatnas select`` and ``eatnas transfer [run|compare]``.

* ``select --config C --search DIR --out DIR``: basic-architecture selection.
* ``transfer --config C --basic DIR --out DIR`` (mode ``run``, the default): scaling, parent
  training, offspring generation and inheritance.
* ``transfer compare --seeded DIR --scratch DIR --out DIR [--transfer DIR] [--config C --final-epochs E]``:
  seeded-vs-scratch large-search comparison (table, JSON and curve plot); with ``--final-epochs``
  both final architectures are also trained identically and their test accuracies reported.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from eatnas.config import dump_config, load_config
from eatnas.errors import EatnasError

log = logging.getLogger(__name__)


def _overrides(pairs: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise EatnasError(f"--set {pair!r}: write KEY=VALUE, e.g. --set transfer.population=8")
        key, value = pair.split("=", 1)
        out[key] = yaml.safe_load(value)
    return out


def _config(args: argparse.Namespace) -> dict:
    return load_config(args.config, _overrides(args.set or []))


def _cmd_select(args: argparse.Namespace) -> int:
    from eatnas.transfer.select import select_basic

    cfg = _config(args)
    summary = select_basic(cfg, args.search, args.out)
    dump_config(cfg, f"{args.out}/config.yaml")
    print(f"basic architecture: {summary['arch']} (mean val {summary['mean_val_accuracy']:.2f}% "
          f"± {summary['std_val_accuracy']:.2f} over {len(summary['candidates'][0]['seeds'])} seeds)")
    return 0


def _cmd_transfer(args: argparse.Namespace) -> int:
    if args.mode == "compare":
        return _compare(args)
    if not (args.basic and args.out):
        raise EatnasError("transfer: pass --basic DIR (a select output) and --out DIR")
    from eatnas.transfer.stage import run_transfer

    cfg = _config(args)
    result = run_transfer(cfg, args.basic, args.out)
    dump_config(cfg, f"{args.out}/config.yaml")
    print(f"{len(result['offspring'])} offspring of {result['basic']} written to {args.out}/offspring.json")
    return 0


def _compare(args: argparse.Namespace) -> int:
    if not (args.seeded and args.scratch and args.out):
        raise EatnasError("transfer compare: pass --seeded DIR --scratch DIR --out DIR")
    from eatnas.transfer.compare import compare_searches, final_test_accuracies, transfer_time

    final = None
    if args.final_epochs is not None:
        cfg = _config(args)
        final = final_test_accuracies(cfg, {"seeded": args.seeded, "scratch": args.scratch}, epochs=args.final_epochs,
                                     seeds=args.final_seeds)
    offset = transfer_time(args.transfer) if args.transfer else 0.0
    table = compare_searches(args.seeded, args.scratch, args.out, final=final, seeded_time_offset_s=offset,
                             config=_config(args) if args.config else None)
    print(json.dumps(table["summary"], indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("select", help="pick the basic architecture from a small-dataset search")
    p.add_argument("--config", help="pipeline YAML config")
    p.add_argument("--search", required=True, help="search directory (history.jsonl, best.json)")
    p.add_argument("--out", required=True, help="output directory (basic.json, basic.pt, candidates.csv)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override (repeatable)")
    p.set_defaults(func=_cmd_select)

    t = sub.add_parser("transfer", help="elastic transfer of the basic architecture (run) or seeded-vs-scratch "
                                        "comparison (compare)")
    t.add_argument("mode", nargs="?", choices=("run", "compare"), default="run")
    t.add_argument("--config", help="pipeline YAML config")
    t.add_argument("--basic", help="run: select directory (basic.json, basic.pt)")
    t.add_argument("--out", help="output directory")
    t.add_argument("--seeded", help="compare: search directory seeded from offspring")
    t.add_argument("--scratch", help="compare: search directory started from a random population")
    t.add_argument("--transfer", help="compare: transfer directory; its wall time is charged to the seeded search")
    t.add_argument("--final-epochs", type=float, help="compare: train both final architectures this long "
                                                       "(same seed and settings) and report test accuracy")
    t.add_argument("--final-seeds", type=int, default=1,
                   help="compare: train each final architecture this many times (the same seeds for both searches) "
                        "and report the mean accuracies")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override (repeatable)")
    t.set_defaults(func=_cmd_transfer)
