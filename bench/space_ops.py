"""Throughput of search-space operations per registered space: sample, mutate, encode, decode, cost.

Usage: ``python bench/space_ops.py [--seconds 0.5] [--space NAME ...]``. Prints one line per space
with operations per second; ``mutate`` = pick a random action of the architecture and apply it
(``actions`` included), ``mutate+encode`` additionally encodes the child (the evolution inner loop).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Callable

import eatnas.space  # noqa: F401  (registers the built-in spaces)
from eatnas.space.base import SPACES, BuildSpec, SearchSpace, get_space


def rate(fn: Callable[[int], object], seconds: float) -> float:
    """Calls per second of ``fn(i)`` over about ``seconds``."""
    n, start = 0, time.perf_counter()
    while True:
        for _ in range(100):
            fn(n)
            n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def bench_space(space: SearchSpace, seconds: float, seed: int = 0) -> dict[str, float]:
    rng = random.Random(seed)
    pool = [space.sample(rng) for _ in range(256)]
    texts = [space.encode(a) for a in pool]
    spec = BuildSpec(num_classes=10, input_size=getattr(space, "test_resolutions", (32,))[-1], in_channels=3)
    state = {"arch": pool[0]}

    def mutate(_: int) -> None:
        state["arch"] = space.apply(state["arch"], rng.choice(space.actions(state["arch"])))

    def mutate_encode(_: int) -> None:
        mutate(_)
        space.encode(state["arch"])

    ops: dict[str, Callable[[int], object]] = {
        "sample": lambda i: space.sample(rng),
        "mutate": mutate,
        "mutate+encode": mutate_encode,
        "encode": lambda i: space.encode(pool[i % 256]),
        "decode": lambda i: space.decode(texts[i % 256]),
        "cost": lambda i: space.cost(pool[i % 256], spec),
    }
    out: dict[str, float] = {}
    for key, fn in ops.items():
        try:
            out[key] = rate(fn, seconds)
        except Exception as exc:  # a broken operation of one space must not hide the others' figures
            print(f"  {space.name}.{key} failed: {type(exc).__name__}: {exc}")
            out[key] = float("nan")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement (default 0.5)")
    parser.add_argument("--space", nargs="*", default=None, help="spaces (default: every registered one)")
    args = parser.parse_args()
    print(f"{'space':8} " + " ".join(f"{k:>14}" for k in ("sample", "mutate", "mutate+encode", "encode", "decode", "cost"))
          + "   (operations per second)")
    for name in args.space or SPACES.names():
        try:
            space = get_space(name)
        except TypeError as exc:
            print(f"{name:8} skipped: needs constructor arguments ({exc})")
            continue
        res = bench_space(space, args.seconds)
        print(f"{name:8} " + " ".join(f"{v:14,.0f}" if v == v else f"{'failed':>14}" for v in res.values()))


if __name__ == "__main__":
    main()
