"""Basic-architecture selection: retrain the search's top-k longer, over several seeds, keep the best.

The top-k distinct architectures of the small-dataset search (by their best validation fitness
in ``history.jsonl``) are each trained ``select.seeds`` times from scratch for ``select.epochs``
epochs on the small dataset; the one with the highest mean validation accuracy becomes the basic
architecture (ties: the better search rank). Its best-seed weights are ``basic.pt``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from eatnas.errors import EatnasError
from eatnas.space.base import Arch, SearchSpace
from eatnas.transfer.context import (
    Task, decode_in_space, device_of, load_task, space_from_config, train_settings,
)
from eatnas.transfer.runs import Evaluation, read_best, read_history
from eatnas.transfer.settings import select_config
from eatnas.utils.io import write_json_atomic, write_text_atomic
from eatnas.utils.seed import derive_seed
from eatnas.version import code_version

log = logging.getLogger(__name__)


@dataclass
class Candidate:
    """One top-k architecture and its retraining results (one entry per seed)."""

    rank: int
    arch: Arch
    arch_str: str
    search_fitness: float
    seeds: list[int] = field(default_factory=list)
    accuracies: list[float | None] = field(default_factory=list)  # None = the run diverged
    test_accuracies: list[float | None] = field(default_factory=list)
    best_state: dict | None = None
    best_accuracy: float = float("-inf")

    @property
    def finished(self) -> list[float]:
        """Validation accuracies of the seeds that trained without diverging."""
        return [a for a in self.accuracies if a is not None]

    @property
    def mean_accuracy(self) -> float:
        return statistics.fmean(self.finished) if self.finished else float("-inf")

    @property
    def std_accuracy(self) -> float:
        return statistics.pstdev(self.finished) if len(self.finished) > 1 else 0.0

    def row(self) -> dict[str, Any]:
        return {"rank": self.rank, "arch": self.arch_str, "search_fitness": self.search_fitness,
                "seeds": self.seeds, "val_accuracy": self.accuracies, "test_accuracy": self.test_accuracies,
                "mean_val_accuracy": self.mean_accuracy if self.finished else None,
                "std_val_accuracy": self.std_accuracy}


def top_k(space: SearchSpace, history: list[Evaluation], k: int, source: str,
          recorded_space: str | None = None) -> list[tuple[Arch, str, float]]:
    """The ``k`` best distinct architectures by validation fitness (best record per architecture)."""
    best: dict[str, tuple[float, int, Arch, str]] = {}
    for ev in history:
        arch = decode_in_space(space, ev.arch, source, recorded_space)
        key = space.canonical_key(arch)
        if key not in best or ev.fitness > best[key][0]:
            best[key] = (ev.fitness, ev.index, arch, space.encode(arch))
    ranked = sorted(best.values(), key=lambda t: (-t[0], t[1]))
    return [(arch, text, fit) for fit, _, arch, text in ranked[:k]]


def retrain(space: SearchSpace, cand: Candidate, task: Task, *, epochs: float, seeds: int, base_seed: int,
            cfg: Mapping[str, Any]) -> None:
    """Train ``cand`` from scratch ``seeds`` times on ``task``; keep the best seed's weights."""
    import torch

    from eatnas.train import TrainingDiverged, train_model

    tcfg, device = train_settings(cfg), device_of(cfg)
    for s in range(seeds):
        seed = derive_seed(base_seed, "select", space.canonical_key(cand.arch), s)
        torch.manual_seed(seed)  # weight initialisation; train_model seeds the rest
        model = space.build(cand.arch, task.spec)
        cand.seeds.append(seed)
        try:
            metrics = train_model(model, task.splits, epochs=epochs, cfg=tcfg, device=device, seed=seed, test=True)
        except TrainingDiverged as exc:
            log.warning("select: rank %d seed %d diverged (%s); the seed is left out of its mean", cand.rank, s, exc)
            cand.accuracies.append(None)
            cand.test_accuracies.append(None)
            continue
        cand.accuracies.append(float(metrics.accuracy))
        cand.test_accuracies.append(None if metrics.test_accuracy is None else float(metrics.test_accuracy))
        if metrics.accuracy > cand.best_accuracy:
            cand.best_accuracy = float(metrics.accuracy)
            cand.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        log.info("select: rank %d %s seed %d: val %.2f%%", cand.rank, cand.arch_str, s, metrics.accuracy)


def choose(candidates: list[Candidate]) -> Candidate:
    """Highest mean validation accuracy; ties go to the better search rank."""
    trained = [c for c in candidates if c.finished]
    if not trained:
        raise EatnasError("select: every retraining run diverged; lower train.lr or raise train.grad_clip")
    return max(trained, key=lambda c: (c.mean_accuracy, -c.rank))


def candidates_csv(candidates: list[Candidate]) -> str:
    buf = io.StringIO()
    n = max(len(c.accuracies) for c in candidates)

    def fmt(a: float | None) -> str:
        return "" if a is None else f"{a:.4f}"

    writer = csv.writer(buf)
    writer.writerow(["rank", "arch", "search_fitness", "mean_val_accuracy", "std_val_accuracy",
                     *[f"val_accuracy_seed{i}" for i in range(n)], *[f"test_accuracy_seed{i}" for i in range(n)]])
    for c in candidates:
        writer.writerow([c.rank, c.arch_str, fmt(c.search_fitness), fmt(c.mean_accuracy if c.finished else None),
                         fmt(c.std_accuracy), *[fmt(a) for a in c.accuracies], *[fmt(a) for a in c.test_accuracies]])
    return buf.getvalue()


def select_basic(cfg: Mapping[str, Any], search_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Run the selection stage; writes ``basic.json``, ``candidates.csv`` and ``basic.pt`` into ``out_dir``."""
    from eatnas.train import save_checkpoint

    scfg = select_config(cfg)
    space = space_from_config(cfg)
    search_dir, out_dir = Path(search_dir), Path(out_dir)
    history = read_history(search_dir)
    best = read_best(search_dir)
    recorded = best.get("space") if isinstance(best.get("space"), str) else None
    chosen_top = top_k(space, history, scfg.top_k, str(search_dir / "history.jsonl"), recorded)
    task = load_task(cfg, "small", int(cfg.get("seed", 0)))
    candidates = [Candidate(i + 1, arch, text, fit) for i, (arch, text, fit) in enumerate(chosen_top)]
    for cand in candidates:
        retrain(space, cand, task, epochs=scfg.epochs, seeds=scfg.seeds, base_seed=int(cfg.get("seed", 0)), cfg=cfg)
    winner = choose(candidates)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = space.build(winner.arch, task.spec)
    model.load_state_dict(winner.best_state)
    save_checkpoint(out_dir / "basic.pt", model, config=dict(cfg), arch=winner.arch_str,
                    extra={"space": space.name, "spec": dataclasses.asdict(task.spec),
                           "val_accuracy": winner.best_accuracy})
    write_text_atomic(out_dir / "candidates.csv", candidates_csv(candidates))
    summary = {
        "space": space.name,
        "arch": winner.arch_str,
        "basic": winner.arch_str,
        "mean_val_accuracy": winner.mean_accuracy,
        "std_val_accuracy": winner.std_accuracy,
        "best_seed": winner.seeds[winner.accuracies.index(winner.best_accuracy)],
        "best_seed_val_accuracy": winner.best_accuracy,
        "small_spec": {"num_classes": task.spec.num_classes, "input_size": task.spec.input_size,
                       "in_channels": task.spec.in_channels, "dataset": task.splits.name},
        "search": str(search_dir),
        "candidates": [c.row() for c in candidates],
        "config": dict(cfg),
        "code_version": code_version(),
    }
    write_json_atomic(out_dir / "basic.json", summary)
    return summary
