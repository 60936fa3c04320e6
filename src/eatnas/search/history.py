"""Search persistence: append-only history, proposal log, config fingerprint, atomic snapshots.

``history.jsonl``: line 1 is a header (``event: header``, config fingerprint and resolved settings);
then one line per finished evaluation (``event: eval``: canonical string, key, status, error, metrics,
fitness, parent, action, worker, timings, seed, checkpoint). ``state/proposals.jsonl``: one line per
proposed candidate with the number of results seen before it — with the history it lets a rerun replay
the search exactly (see :mod:`eatnas.search.engine`). ``state/snapshot.json`` and
``state/strategy.npz`` (controller weights, Adam moments, baseline, RNG) are rewritten atomically after
every evaluation. A torn last line (a kill mid-write) is dropped with a warning.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from eatnas.errors import CheckpointError, EatnasError
from eatnas.utils.io import append_jsonl, atomic_write, read_jsonl, truncate_torn_tail, write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from eatnas.search.engine import Evolution, Record
    from eatnas.space.base import SearchSpace


def fingerprint(obj: Mapping[str, Any]) -> str:
    """A stable hash of the settings that determine a search's results."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SearchHistory:
    """Files of one search directory; ``open`` checks (or writes) the fingerprint header."""

    def __init__(self, out_dir: str | os.PathLike, fingerprint_: str, header: Mapping[str, Any] | None = None) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / "history.jsonl"
        self.state = self.dir / "state"
        self.proposals_path = self.state / "proposals.jsonl"
        self.fingerprint = fingerprint_
        self.header = dict(header or {})

    def open(self) -> "SearchHistory":
        self.state.mkdir(parents=True, exist_ok=True)
        for path in (self.path, self.proposals_path):
            truncate_torn_tail(path)
        first = next(iter(self._read(self.path)), None)
        if first is None:
            if self.proposals_path.exists() and self.proposals_path.stat().st_size:
                self.proposals_path.unlink()  # proposals without a header cannot be trusted
            self.path.write_text("")
            append_jsonl(self.path, {"event": "header", "fingerprint": self.fingerprint, "created": time.time(),
                                     **self.header})
        elif first.get("event") != "header" or first.get("fingerprint") != self.fingerprint:
            raise EatnasError(f"{self.path}: history of another search config (fingerprint "
                              f"{first.get('fingerprint')!r}, this config {self.fingerprint!r}); "
                              f"use a new --out directory or delete {self.dir}")
        return self

    def _read(self, path: Path) -> list[dict]:
        try:
            return list(read_jsonl(path))
        except ValueError as exc:
            raise EatnasError(f"{exc}; delete {self.dir} to restart the search") from None

    def load(self) -> tuple[list[dict], list[dict]]:
        """(proposals, results) logged so far, in file order."""
        results = [r for r in self._read(self.path) if r.get("event") == "eval"]
        proposals = [p for p in self._read(self.proposals_path) if p.get("event") == "proposal"]
        return proposals, results

    def log_proposal(self, task: Any, told_before: int) -> None:
        append_jsonl(self.proposals_path, {"event": "proposal", "index": task.index, "key": task.key,
                                           "arch": task.arch, "told_before": told_before, "init": task.init,
                                           "parent": task.parent_key, "time": time.time()})

    def log_result(self, record: "Record", elapsed_s: float, space: "SearchSpace") -> None:
        t, r = record.task, record.result
        action = None
        if t.action is not None:
            action = {"position": t.action[0], "value": t.action[1], "name": space.action_name(t.action[0])}
        append_jsonl(self.path, {
            "event": "eval", "index": t.index, "arch": t.arch, "key": t.key, "status": r.status, "error": r.error,
            "metrics": r.metrics, "fitness": record.fitness, "init": t.init, "parent": t.parent_key,
            "parent_index": t.parent_index, "action": action, "worker": r.worker, "seed": t.seed,
            "started": r.started, "finished": r.finished, "wall_time_s": max(0.0, r.finished - r.started),
            "elapsed_s": elapsed_s, "checkpoint": r.checkpoint,
        })

    def snapshot(self, engine: "Evolution") -> None:
        """Atomically write the population, counters, RNG state and the strategy (controller) state."""
        write_json_atomic(self.state / "snapshot.json", {
            "fingerprint": self.fingerprint, "evaluations": len(engine.records), "proposed": engine.n_proposed,
            "repeats": engine.repeats, "elapsed_s": engine.elapsed(),
            "fitness_target": engine.fitness.target,
            "population": [{"index": m.task.index, "arch": m.task.arch, "key": m.task.key, "fitness": m.fitness,
                            "checkpoint": m.result.checkpoint} for m in engine.population],
            "inflight": sorted(engine.inflight), "rng": _jsonable(engine.rng.getstate()),
        })
        save_state(self.state / "strategy.npz", engine.strategy.state_dict())


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def save_state(path: str | os.PathLike, state: Mapping[str, Any]) -> None:
    """Nested dict with numpy arrays -> one ``.npz`` (arrays as entries, the rest as JSON), atomically."""
    arrays: dict[str, np.ndarray] = {}

    def strip(value: Any, where: str) -> Any:
        if isinstance(value, np.ndarray):
            arrays[where] = value
            return {"__array__": where}
        if isinstance(value, Mapping):
            return {str(k): strip(v, f"{where}.{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [strip(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, np.generic):
            return value.item()
        return value

    meta = strip(dict(state), "state")
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.array(json.dumps(meta)), **arrays)
    atomic_write(path, lambda fh: fh.write(buf.getvalue()))


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Inverse of :func:`save_state`; a missing or unreadable file raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"controller state {str(path)!r} does not exist; pass a search's state/strategy.npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable controller state ({type(exc).__name__}); "
                              f"pass a search's state/strategy.npz") from None
    if "__meta__" not in arrays:
        raise CheckpointError(f"{path}: not an eatnas strategy state (no metadata); pass a search's state/strategy.npz")

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return arrays[value["__array__"]]
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return fill(json.loads(str(arrays["__meta__"])))
