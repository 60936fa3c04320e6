"""NAS-Bench-201: random search vs REA vs RENAS on one table, same seeds, with timings.

Each strategy runs R independent searches of Q queries (validation accuracy only, one random training
seed per query with --noisy); the returned cell's test accuracy is reported, with the difference of
means and its standard error for each pair, and the wall/CPU time of each strategy.

Usage: python bench/nb201_strategies.py [--table CSV] [--queries 100] [--runs 500] [--seed 0] [--exact]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from eatnas.search.bench import compare, format_summary, run_bench

DEFAULT_TABLE = "/work/shared/benchmarks/nasbench201/cifar10.csv"


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=DEFAULT_TABLE)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exact", action="store_true", help="mean validation accuracy instead of one noisy seed")
    ap.add_argument("--json", default=None, help="also write the summaries to this file")
    args = ap.parse_args()
    summaries = []
    for name in ("random", "rea", "renas"):
        c0, t0 = _cpu(), time.perf_counter()
        s = run_bench(args.table, name, args.queries, args.runs, args.seed, noisy=not args.exact)
        s["cpu_s"], s["wall_s"] = _cpu() - c0, time.perf_counter() - t0
        summaries.append(s)
        print(format_summary(s))
        print(f"  cpu time {s['cpu_s']:.1f} s ({1000 * s['cpu_s'] / args.runs:.0f} ms per search)", flush=True)
    for i, a in enumerate(summaries):
        for b in summaries[i + 1:]:
            c = compare(b, a)
            print(f"{c['a']} - {c['b']}: {c['diff']:+.3f} test accuracy, standard error {c['se']:.3f} ({c['z']:+.1f} SE)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summaries, fh, indent=2)


if __name__ == "__main__":
    main()
