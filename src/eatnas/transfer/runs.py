"""Reading a search directory (``history.jsonl`` + ``best.json``) written by ``eatnas search``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eatnas.errors import EatnasError
from eatnas.utils.io import read_jsonl


@dataclass(frozen=True)
class Evaluation:
    """One finished candidate evaluation of a search, in history order."""

    index: int
    arch: str
    fitness: float
    accuracy: float
    wall_time_s: float
    record: dict


def _number(rec: dict, *keys: str) -> float | None:
    for key in keys:
        value = rec.get(key)
        if isinstance(value, dict):  # nested metrics
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    metrics = rec.get("metrics")
    if isinstance(metrics, dict):
        return _number(metrics, *keys)
    return None


def _is_evaluation(rec: dict) -> bool:
    if rec.get("status", "ok") not in ("ok", "done", "finished", "evaluated"):
        return False
    kind = rec.get("kind", rec.get("type", rec.get("event", "eval")))
    return kind in ("eval", "evaluation", "init", "child", "candidate") and isinstance(rec.get("arch"), str)


def read_history(search_dir: str | Path) -> list[Evaluation]:
    """Finished evaluations of ``search_dir/history.jsonl`` (in order); errors name the file and the fix."""
    path = Path(search_dir) / "history.jsonl"
    if not path.is_file():
        raise EatnasError(f"{path}: no search history; run `eatnas search` with --out {search_dir} first")
    try:
        records = list(read_jsonl(path))
    except ValueError as exc:
        raise EatnasError(f"{exc}; rerun the search stage") from None
    out: list[Evaluation] = []
    for rec in records:
        if not isinstance(rec, dict) or not _is_evaluation(rec):
            continue
        acc = _number(rec, "accuracy", "val_accuracy")
        if acc is None:
            continue
        fit = _number(rec, "fitness")
        wall = _number(rec, "elapsed_s", "search_time_s", "time_s", "wall_time_s")
        out.append(Evaluation(len(out), rec["arch"], acc if fit is None else fit, acc,
                              0.0 if wall is None else wall, rec))
    if not out:
        raise EatnasError(f"{path}: the history has no finished evaluation; let the search run "
                          f"(or resume it) until at least one candidate is evaluated")
    return out


def read_best(search_dir: str | Path) -> dict[str, Any]:
    """``search_dir/best.json`` (written last by a finished search)."""
    path = Path(search_dir) / "best.json"
    if not path.is_file():
        raise EatnasError(f"{path}: missing; the search in {search_dir} has not finished, run or resume it")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise EatnasError(f"{path}: not valid JSON ({exc.msg}); rerun the search stage") from None
    if not isinstance(data, dict):
        raise EatnasError(f"{path}: expected a JSON object; rerun the search stage")
    return data
