"""``eatnas search`` (one pipeline search stage) and ``eatnas bench nb201`` (table benchmark)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from eatnas.errors import ConfigError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("search", help="run (or resume) one evolutionary search stage",
                              description="Run one search stage of the pipeline config; rerunning the same command "
                                          "resumes an interrupted search.")
    p.add_argument("--config", required=True, help="pipeline config YAML")
    p.add_argument("--out", required=True, help="output directory (history.jsonl, state/, checkpoints/, best.json)")
    p.add_argument("--stage", default="search_small", choices=["search_small", "search_large", "search_large_scratch"])
    p.add_argument("--init", default=None, metavar="OFFSPRING_JSON", help="seed population from the transfer stage")
    p.add_argument("--controller", default=None, metavar="STATE_FILE",
                   help="start the RENAS controller from a previous search's state/strategy.npz")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (dotted, YAML value), e.g. search_small.evaluations=40")
    p.set_defaults(func=_search)

    b = subparsers.add_parser("bench", help="benchmarks of the search strategies")
    bsub = b.add_subparsers(dest="bench", metavar="BENCH")
    n = bsub.add_parser("nb201", help="R independent searches of Q queries on a NAS-Bench-201 table",
                        description="Searches see validation accuracy only; the returned cell's test accuracy is reported.")
    n.add_argument("--table", required=True, help="CSV in the format of benchmarks/nasbench201/cifar10.csv")
    n.add_argument("--strategy", default="renas",
                   help="random (random search), rea or renas; a comma-separated list compares them on the same seeds")
    n.add_argument("--queries", type=int, default=100)
    n.add_argument("--runs", type=int, default=500)
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("--noisy", action="store_true", help="each query returns one random training seed's accuracy")
    n.add_argument("--processes", type=int, default=None, help="worker processes (default: all cores)")
    n.add_argument("--json", action="store_true", help="print one JSON object")
    n.set_defaults(func=_bench)
    b.set_defaults(func=lambda args: (b.print_help(), 2)[1])


def _parse_sets(items: list[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. search_small.evaluations=40")
        out[key] = yaml.safe_load(value)
    return out


def _search(args: argparse.Namespace) -> int:
    from eatnas.config import load_config
    from eatnas.search.stage import run_stage

    cfg = load_config(args.config, _parse_sets(args.set))
    best = run_stage(cfg, args.stage, args.out, init=args.init, controller=args.controller)
    top = best["best"]
    if top is None:
        print(f"search finished without a successful evaluation ({best['evaluations']} evaluations); see {args.out}/history.jsonl")
        return 1
    print(f"best {top['arch']}  fitness {top['fitness']:.4f}  accuracy {top['metrics']['accuracy']:.2f}  "
          f"({best['evaluations']} evaluations, {best['failed']} failed, {best['repeats']} repeats) -> {args.out}/best.json")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from eatnas.search.bench import compare, format_summary, run_bench

    names = [n.strip() for n in args.strategy.split(",") if n.strip()]
    summaries = [run_bench(args.table, n, args.queries, args.runs, args.seed, args.noisy, args.processes) for n in names]
    comparisons = [compare(a, b) for i, a in enumerate(summaries) for b in summaries[i + 1:]]
    if args.json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else {"results": summaries, "comparisons": comparisons}))
        return 0
    for s in summaries:
        print(format_summary(s))
    for c in comparisons:
        print(f"{c['a']} - {c['b']}: {c['diff']:+.3f} test accuracy, standard error {c['se']:.3f} ({c['z']:+.1f} SE)")
    return 0
