"""The ``search`` pipeline stage: one evolution on one dataset, resumable, ending with ``best.json``.

Stages: ``search_small`` (config ``search_small`` on ``data.small``), ``search_large`` (``search_large``
on ``data.large``, seeded with the transfer offspring when ``--init`` is given) and
``search_large_scratch`` (``search_large`` settings, random initial population).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from eatnas.errors import CheckpointError, ConfigError
from eatnas.search.engine import Evolution, EvolutionSettings, InitCandidate, SearchResult
from eatnas.search.fitness import Fitness
from eatnas.search.history import SearchHistory, fingerprint, load_state
from eatnas.search.strategies import make_strategy
from eatnas.space.base import SearchSpace, space_from_section
from eatnas.utils.io import read_json_object, write_json_atomic
from eatnas.utils.seed import derive_seed
from eatnas.version import code_version

log = logging.getLogger(__name__)
STAGES = {"search_small": ("search_small", "small"), "search_large": ("search_large", "large"),
          "search_large_scratch": ("search_large", "large")}
# settings that may change between a run and its resume (they do not change the results' meaning)
NOT_FINGERPRINTED = ("workers", "wall_time_s", "backend", "ray_address", "top_k")


def space_from_config(cfg: Mapping[str, Any]) -> tuple[SearchSpace, dict[str, Any]]:
    """The configured space, passing only the ``space`` options its constructor accepts."""
    return space_from_section(cfg.get("space"))


def settings_from_config(search: Mapping[str, Any], seed: int) -> EvolutionSettings:
    """:class:`EvolutionSettings` from a ``$defs/search`` mapping."""
    return EvolutionSettings(population=int(search.get("population", 8)), sample=int(search.get("sample", 3)),
                             removal=str(search.get("removal", "oldest")), evaluations=int(search.get("evaluations", 24)),
                             wall_time_s=search.get("wall_time_s"), workers=int(search.get("workers", 1)), seed=seed,
                             walk_after=int(search.get("walk_after", 20)))


def read_offspring(path: str | Path, space: SearchSpace) -> list[InitCandidate]:
    """Parse an ``offspring.json`` (``{"space": ..., "offspring": [{"arch", "checkpoint"}]}``)."""
    p = Path(path)
    data = read_json_object(p, "rerun the transfer stage", error=ConfigError,
                            missing="pass the transfer stage's offspring.json as --init")
    if not isinstance(data.get("offspring"), list) or not data["offspring"]:
        raise ConfigError(f"{p}: expected {{\"space\": NAME, \"offspring\": [{{\"arch\": STR, \"checkpoint\": PATH}}, ...]}}")
    if data.get("space") != space.name:
        raise ConfigError(f"{p}: offspring of space {data.get('space')!r} but space.name is {space.name!r}; "
                          f"use the offspring of this config's transfer stage")
    out = []
    for i, item in enumerate(data["offspring"]):
        if not isinstance(item, dict) or not isinstance(item.get("arch"), str):
            raise ConfigError(f"{p}: offspring[{i}] needs an 'arch' string")
        ckpt = item.get("checkpoint")
        if ckpt:
            cp = Path(ckpt)
            if not cp.is_absolute() and not cp.exists():
                cp = p.parent / cp
            if not cp.is_file():
                raise CheckpointError(f"{p}: offspring[{i}] checkpoint {ckpt!r} does not exist; rerun the transfer stage")
            ckpt = str(cp.resolve())
        out.append(InitCandidate(space.decode(item["arch"]), ckpt))
    return out


def _evaluator(cfg: Mapping[str, Any], search: Mapping[str, Any], which: str, space: SearchSpace,
               space_opts: dict, out: Path, device: str, seed: int) -> Any:
    if search.get("table"):
        from eatnas.search.evaluators import TableEvaluator

        if space.name != "nb201":
            raise ConfigError(f"search.table is set but space.name is {space.name!r}; tables exist for nb201 only")
        return TableEvaluator(search["table"], bool(search.get("noisy", False)))
    from eatnas.search.training_evaluator import TrainingEvaluator

    return TrainingEvaluator(space.name, space_opts, cfg["data"][which], cfg.get("train") or {},
                             init_epochs=search.get("init_epochs", 2), child_epochs=search.get("child_epochs", 1),
                             inherit=bool(search.get("inherit", True)), checkpoint_dir=str(out / "checkpoints"),
                             device=device, data_seed=seed)


def _device(name: str) -> str:
    from eatnas.utils.device import resolve_device

    return resolve_device(name).type


def run_stage(cfg: Mapping[str, Any], stage: str, out: str | Path, init: str | None = None,
              controller: str | None = None) -> dict[str, Any]:
    """Run (or resume) one search stage; writes history, state, checkpoints and finally ``best.json``."""
    import torch

    from eatnas.search.workers import make_executor

    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    section, which = STAGES[stage]
    search = dict(cfg.get(section) or {})
    out = Path(out)
    seed = derive_seed(int(cfg.get("seed", 0)), stage)
    space, space_opts = space_from_config(cfg)
    settings = settings_from_config(search, seed)
    if stage == "search_large_scratch" and init:
        raise ConfigError("--init cannot be used with stage search_large_scratch (its population is random)")
    init_pop = read_offspring(init, space) if init else []
    fitness = Fitness.from_config(search.get("fitness"))
    strategy = make_strategy(search.get("strategy", "renas"), space, search.get("controller"), seed)
    controller_state = None
    if controller:
        controller_state = load_state(controller)
        strategy.load_state_dict(controller_state, source=str(controller))
    device = _device(str(cfg.get("device", "auto")))
    torch.set_num_threads(int(cfg.get("threads", 1)))
    evaluator = _evaluator(cfg, search, which, space, space_opts, out, device, seed)
    key_cfg = {k: v for k, v in search.items() if k not in NOT_FINGERPRINTED}
    fp = fingerprint({"stage": stage, "seed": seed, "space": {"name": space.name, **space_opts},
                      "data": cfg["data"][which], "train": cfg.get("train"), "search": key_cfg, "device": device,
                      "init": [(c.arch, c.checkpoint) for c in init_pop], "controller": controller})
    history = SearchHistory(out, fp, {"stage": stage, "space": space.name, "code_version": code_version()}).open()
    executor = make_executor(evaluator, workers=settings.workers, backend=str(search.get("backend", "local")),
                             device=device, threads=int(cfg.get("threads", 1)), ray_address=search.get("ray_address"))
    engine = Evolution(space, strategy, fitness, settings, executor, init=init_pop, history=history,
                       on_record=lambda r: log.info("candidate %d %s: %s fitness=%s", r.task.index, r.task.arch,
                                                    r.result.status, r.fitness))
    result = engine.run()
    best = best_json(result, space, cfg, stage, int(search.get("top_k", 5)), out)
    write_json_atomic(out / "best.json", best)
    return best


def best_json(result: SearchResult, space: SearchSpace, cfg: Mapping[str, Any], stage: str, top_k: int,
              out: Path) -> dict[str, Any]:
    """The stage summary: top-k architectures with metrics, Pareto front, resolved config, code version."""
    def row(r: Any, rank: int | None = None) -> dict[str, Any]:
        return {"rank": rank, "index": r.task.index, "arch": r.task.arch, "key": r.task.key, "fitness": r.fitness,
                "metrics": r.result.metrics, "checkpoint": r.result.checkpoint, "parent": r.task.parent_key,
                "init": r.task.init}

    ranked = result.ranked()
    front, hv = result.pareto()
    return {
        "stage": stage, "space": space.name, "code_version": code_version(),
        "best": row(ranked[0], 1) if ranked else None,
        "top": [row(r, i + 1) for i, r in enumerate(ranked[:top_k])],
        "evaluations": result.evaluations, "failed": sum(not r.ok for r in result.records),
        "repeats": result.repeats, "stopped": result.stopped, "fitness_target": result.fitness.target,
        "pareto": [row(r) for r in front], "hypervolume": hv,
        "hypervolume_reference": {"accuracy": 0.0, "cost": "1.1 x the largest cost evaluated",
                                  "cost_key": result.fitness.cost},
        "controller_state": str(out / "state" / "strategy.npz") if result.strategy_state else None,
        "history": str(out / "history.jsonl"), "config": dict(cfg),
    }
