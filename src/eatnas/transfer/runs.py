"""Reading a search directory (``history.jsonl`` + ``best.json``) written by ``eatnas search``.

History lines with ``event: eval`` and ``status: ok`` are finished evaluations (validation
``metrics.accuracy``, ``fitness`` — null until a JASQ target is calibrated, then the accuracy is
used —, ``elapsed_s`` since the search started); the header and failed evaluations are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eatnas.errors import EatnasError
from eatnas.utils.io import read_json_object, read_jsonl


@dataclass(frozen=True)
class Evaluation:
    """One finished candidate evaluation of a search, in history order."""

    index: int
    arch: str
    fitness: float
    accuracy: float
    wall_time_s: float
    record: dict


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def read_history(search_dir: str | Path) -> list[Evaluation]:
    """Finished evaluations of ``search_dir/history.jsonl`` in order; errors name the file and the fix."""
    path = Path(search_dir) / "history.jsonl"
    if not path.is_file():
        raise EatnasError(f"{path}: no search history; run `eatnas search --out {search_dir}` first")
    try:
        records = list(read_jsonl(path))
    except ValueError as exc:
        raise EatnasError(f"{exc}; rerun the search stage") from None
    out: list[Evaluation] = []
    for rec in records:
        if not isinstance(rec, dict) or rec.get("event") != "eval" or rec.get("status") != "ok":
            continue
        metrics = rec.get("metrics") if isinstance(rec.get("metrics"), dict) else {}
        acc = _float(metrics.get("accuracy"))
        if acc is None or not isinstance(rec.get("arch"), str):
            continue
        fit = _float(rec.get("fitness"))
        wall = _float(rec.get("elapsed_s"))
        out.append(Evaluation(len(out), rec["arch"], acc if fit is None else fit, acc,
                              0.0 if wall is None else wall, rec))
    if not out:
        raise EatnasError(f"{path}: the history has no finished evaluation; run or resume the search "
                          f"until at least one candidate is evaluated successfully")
    return out


def read_best(search_dir: str | Path) -> dict[str, Any]:
    """``search_dir/best.json`` (written last by a finished search)."""
    return read_json_object(Path(search_dir) / "best.json", "rerun the search stage",
                            missing=f"the search in {search_dir} has not finished, run or resume it")


def best_arch(search_dir: str | Path) -> str:
    """The final architecture of a finished search (``best.json`` → ``best.arch``)."""
    best = read_best(search_dir).get("best")
    if not isinstance(best, dict) or not isinstance(best.get("arch"), str):
        raise EatnasError(f"{Path(search_dir) / 'best.json'}: no best architecture (every evaluation failed?); "
                          f"check the search log and rerun it")
    return best["arch"]


def search_section(best: dict[str, Any]) -> dict[str, Any]:
    """The ``$defs/search`` config section a finished search ran with (from its ``best.json``)."""
    cfg = best.get("config") if isinstance(best.get("config"), dict) else {}
    stage = str(best.get("stage") or "search_large")
    name = "search_large" if stage.startswith("search_large") else stage
    section = cfg.get(name)
    return section if isinstance(section, dict) else {}
