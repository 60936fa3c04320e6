"""Parallel evaluation: spawned CPU workers, GPU pinning from CUDA_VISIBLE_DEVICES, Ray tasks."""

from __future__ import annotations

import pytest

from eatnas.search.engine import Evolution, EvolutionSettings
from eatnas.search.evaluators import TableEvaluator
from eatnas.search.fitness import Fitness
from eatnas.search.strategies import make_strategy
from eatnas.search.workers import ProcessExecutor, granted_gpus, make_executor
from eatnas.space.base import get_space

TABLE = "/work/shared/benchmarks/nasbench201/cifar10.csv"


def _search(executor, workers: int):
    space = get_space("nb201")
    settings = EvolutionSettings(population=4, sample=2, evaluations=12, workers=workers, seed=3)
    return Evolution(space, make_strategy("rea", space), Fitness(), settings, executor).run()


def test_two_spawned_workers_evaluate_everything_once():
    res = _search(ProcessExecutor(TableEvaluator(TABLE), workers=2, threads=1), workers=2)
    assert len(res.records) == 12 and len({r.task.key for r in res.records}) == 12
    assert {r.result.worker for r in res.records} <= {"cpu0", "cpu1"} and all(r.ok for r in res.records)


def test_granted_gpus_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert granted_gpus() == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert granted_gpus() == []
    with pytest.raises(Exception, match="no GPU is granted"):
        make_executor(TableEvaluator(TABLE), workers=2, device="cuda")


def test_ray_backend_runs_tasks_on_a_local_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        res = _search(make_executor(TableEvaluator(TABLE), workers=2, backend="ray"), workers=2)
    finally:
        ray.shutdown()
    assert len(res.records) == 12 and all(r.ok and r.result.worker.startswith("ray:") for r in res.records)
