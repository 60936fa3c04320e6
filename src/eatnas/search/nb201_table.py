"""NAS-Bench-201 lookup tables: any CSV in the format of ``benchmarks/nasbench201/cifar10.csv``.

Columns: index, arch, ops (6 op codes in edge order), valid_acc (mean over seeds), valid_acc_seeds
(``;``-separated), test_acc, params_mb. Searches may look at validation accuracy only; test accuracy
is for reporting the architecture a search returns.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from eatnas.errors import DataError

REQUIRED_COLUMNS = ("index", "arch", "ops", "valid_acc", "valid_acc_seeds", "test_acc", "params_mb")
NUM_EDGES, NUM_OPS = 6, 5
SIZE = NUM_OPS ** NUM_EDGES


def ops_index(ops: Sequence[int]) -> int:
    """Row of a cell in the dense arrays: the op codes read as a base-5 number."""
    out = 0
    for t in ops:
        out = out * NUM_OPS + int(t)
    return out


@dataclass(frozen=True)
class NB201Table:
    """Dense arrays over all 5^6 cells (NaN where a cell is absent from the file)."""

    path: str
    valid_mean: np.ndarray      # (15625,)
    valid_seeds: np.ndarray     # (15625, max_seeds), NaN-padded
    n_seeds: np.ndarray         # (15625,) int
    test: np.ndarray            # (15625,)
    params_mb: np.ndarray       # (15625,)
    index: np.ndarray           # (15625,) official index, -1 if absent

    def row(self, ops: Sequence[int]) -> int:
        i = ops_index(ops)
        if not np.isfinite(self.valid_mean[i]):
            raise DataError(f"{self.path}: no row for ops {''.join(map(str, ops))}; the table must list every cell")
        return i

    def valid(self, ops: Sequence[int], rng: np.random.Generator | None = None) -> float:
        """Mean validation accuracy, or one random seed's value when ``rng`` is given (noisy evaluator)."""
        i = self.row(ops)
        if rng is None:
            return float(self.valid_mean[i])
        return float(self.valid_seeds[i, rng.integers(self.n_seeds[i])])

    def best_test(self) -> float:
        return float(np.nanmax(self.test))

    def best_valid_row(self) -> int:
        return int(np.nanargmax(self.valid_mean))


def load_table(path: str | os.PathLike) -> NB201Table:
    """Read and check a table; a missing column or malformed row raises :class:`DataError`."""
    return _load(str(Path(path).resolve()))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> NB201Table:
    import pandas as pd

    if not os.path.isfile(path):
        raise DataError(f"NB201 table {path!r} does not exist; pass --table with a CSV like benchmarks/nasbench201/cifar10.csv")
    try:
        df = pd.read_csv(path, dtype={"ops": str, "valid_acc_seeds": str, "arch": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    for col in REQUIRED_COLUMNS:
        if col not in df.columns:
            raise DataError(f"{path}: missing column {col!r}; an NB201 table needs columns {', '.join(REQUIRED_COLUMNS)}")
    ops = df["ops"].astype(str).str.strip().str.zfill(NUM_EDGES)
    bad = ~ops.str.fullmatch(r"[0-4]{6}")
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(f"{path}: line {line}: column 'ops' must hold 6 digits 0-4, got {df['ops'].iloc[line - 2]!r}")
    rows = np.array([int(o, NUM_OPS) for o in ops], dtype=np.int64)
    seeds = [[float(x) for x in str(s).split(";") if x.strip()] for s in df["valid_acc_seeds"].fillna("")]
    width = max((len(s) for s in seeds), default=1) or 1
    valid_seeds = np.full((SIZE, width), np.nan)
    n_seeds = np.zeros(SIZE, dtype=np.int64)
    valid_mean = np.full(SIZE, np.nan)
    for r, vals, mean in zip(rows, seeds, df["valid_acc"].to_numpy(dtype=float)):
        vals = vals or [mean]
        valid_seeds[r, : len(vals)] = vals
        n_seeds[r] = len(vals)
        valid_mean[r] = mean
    dense = {}
    for col in ("test_acc", "params_mb", "index"):
        arr = np.full(SIZE, np.nan if col != "index" else -1, dtype=float if col != "index" else np.int64)
        arr[rows] = df[col].to_numpy()
        dense[col] = arr
    return NB201Table(path=path, valid_mean=valid_mean, valid_seeds=valid_seeds, n_seeds=n_seeds,
                      test=dense["test_acc"], params_mb=dense["params_mb"], index=dense["index"])
