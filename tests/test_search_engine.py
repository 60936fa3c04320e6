"""Evolution engine: de-duplication, budget, removal, seed population, failures, bad input."""

from __future__ import annotations

import pytest

from eatnas.errors import ConfigError, DataError, EatnasError
from eatnas.search.engine import Evolution, EvolutionSettings, InitCandidate
from eatnas.search.evaluators import Evaluator, TableEvaluator
from eatnas.search.fitness import Fitness
from eatnas.search.strategies import make_strategy
from eatnas.search.tasks import EvalResult, EvalTask
from eatnas.search.workers import SerialExecutor
from eatnas.space.base import get_space

TABLE = "/work/shared/benchmarks/nasbench201/cifar10.csv"


class ToyEvaluator(Evaluator):
    """accuracy = number of conv3x3 edges (+ small tie-break); cells with avg_pool on edge 0 crash."""

    def __init__(self) -> None:
        self.calls: list[EvalTask] = []

    def evaluate(self, task: EvalTask) -> EvalResult:
        self.calls.append(task)
        ops = get_space("nb201").decode(task.arch)
        if ops[0] == 4:
            raise RuntimeError("simulated crash")
        return EvalResult(metrics={"accuracy": ops.count(3) + 0.01 * ops.count(2), "params": 10 + sum(ops)})


def _run(strategy="random", evaluator=None, init=(), **kw):
    space = get_space("nb201")
    settings = EvolutionSettings(**{"population": 6, "sample": 3, "evaluations": 40, "seed": 1, **kw})
    ev = evaluator or ToyEvaluator()
    engine = Evolution(space, make_strategy(strategy, space, {"hidden": 8, "embedding": 8}, 1), Fitness(), settings,
                       SerialExecutor(ev), init=list(init))
    return engine.run(), ev


@pytest.mark.parametrize("strategy", ["random", "rea", "renas"])
def test_budget_and_no_architecture_twice(strategy):
    res, ev = _run(strategy)
    keys = [r.task.key for r in res.records]
    assert len(keys) == 40 == len(set(keys)) == len(ev.calls)
    assert [r.task.index for r in res.records] == list(range(40))
    assert sum(r.task.init for r in res.records) == 6


def test_failures_are_recorded_and_search_goes_on():
    res, _ = _run("random", evaluations=60)
    failed = [r for r in res.records if not r.ok]
    assert failed and all("simulated crash" in r.result.error for r in failed)
    assert len(res.records) == 60 and all(r.ok for r in res.population)


def test_worst_removal_keeps_the_best_and_evolution_beats_its_start():
    res, _ = _run("random", removal="worst", evaluations=60)
    ok = sorted((r.fitness for r in res.records if r.ok), reverse=True)
    assert sorted((r.fitness for r in res.population), reverse=True) == ok[:6]
    init_best = max(r.fitness for r in res.records if r.ok and r.task.init)
    assert res.best().fitness > init_best


def test_oldest_removal_keeps_the_newest():
    res, _ = _run("random", removal="oldest")
    ok = [r for r in res.records if r.ok]
    assert [r.task.index for r in res.population] == [r.task.index for r in ok[-6:]]


def test_seed_population_comes_first_with_its_checkpoints():
    space = get_space("nb201")
    init = [InitCandidate((3, 3, 3, 1, 3, 2), "/ckpt/a.pt"), InitCandidate((3, 3, 3, 1, 3, 2), "/ckpt/dup.pt"),
            InitCandidate((2, 3, 3, 1, 3, 2), None)]
    res, ev = _run("random", init=init)
    first = ev.calls[:2]
    assert [t.arch for t in first] == [space.encode(c.arch) for c in (init[0], init[2])]  # duplicate skipped
    assert first[0].parent_checkpoint == "/ckpt/a.pt" and first[0].init
    children = [t for t in ev.calls if not t.init]
    assert children and all(t.parent_key is not None and t.action is not None for t in children)


def test_same_seed_same_search_other_seed_differs():
    a, _ = _run("renas")
    b, _ = _run("renas")
    c, _ = _run("renas", seed=2)
    assert [r.task.key for r in a.records] == [r.task.key for r in b.records]
    assert [r.task.key for r in a.records] != [r.task.key for r in c.records]


def test_bad_settings_and_names():
    with pytest.raises(ConfigError, match="evaluations"):
        EvolutionSettings(evaluations=0)
    with pytest.raises(ConfigError, match="removal"):
        EvolutionSettings(removal="random")
    with pytest.raises(EatnasError, match="unknown mutation strategy 'greedy'"):
        make_strategy("greedy", get_space("nb201"))
    with pytest.raises(EatnasError, match="unknown search space 'nb301'"):
        get_space("nb301")


def test_table_evaluator_noisy_is_seeded(tmp_path):
    ev = TableEvaluator(TABLE, noisy=True)
    space = get_space("nb201")
    arch = space.encode((3, 3, 3, 1, 3, 2))
    vals = {ev(EvalTask(0, arch, "k", seed=s, init=True)).metrics["accuracy"] for s in range(20)}
    assert 1 < len(vals) <= 3
    assert ev(EvalTask(0, arch, "k", 7, True)).metrics == ev(EvalTask(0, arch, "k", 7, True)).metrics
    exact = TableEvaluator(TABLE)(EvalTask(0, arch, "k", 0, True)).metrics["accuracy"]
    assert exact == pytest.approx(91.606667, abs=1e-4)


def test_table_missing_column_is_one_line(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("index,arch,ops,valid_acc,test_acc,params_mb\n0,x,000000,1,1,1\n")
    with pytest.raises(DataError) as exc:
        TableEvaluator(str(bad))
    msg = str(exc.value)
    assert "valid_acc_seeds" in msg and str(bad) in msg and "\n" not in msg
