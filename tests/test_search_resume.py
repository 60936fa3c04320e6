"""Resume: interrupted searches continue from their history and end exactly like uninterrupted ones."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from eatnas.config import load_config
from eatnas.errors import EatnasError
from eatnas.search.engine import Evolution, EvolutionSettings
from eatnas.search.evaluators import TableEvaluator
from eatnas.search.fitness import Fitness
from eatnas.search.history import SearchHistory
from eatnas.search.stage import run_stage
from eatnas.search.strategies import make_strategy
from eatnas.search.workers import SerialExecutor
from eatnas.space.base import get_space

TABLE = "/work/shared/benchmarks/nasbench201/cifar10.csv"
CONTROLLER = {"embedding": 8, "hidden": 16, "lr": 0.02, "steps": 2}


class Killed(BaseException):
    """Stands for SIGKILL inside the process: nothing after it runs."""


class DyingEvaluator(TableEvaluator):
    def __init__(self, die_at: int | None) -> None:
        super().__init__(TABLE, noisy=True)
        self.die_at, self.calls = die_at, 0

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "die_at": self.die_at}

    def evaluate(self, task):
        self.calls += 1
        if self.die_at is not None and self.calls >= self.die_at:
            raise Killed()
        return super().evaluate(task)


def _search(out: Path, die_at: int | None):
    space = get_space("nb201")
    settings = EvolutionSettings(population=8, sample=3, removal="worst", evaluations=50, seed=11)
    history = SearchHistory(out, "fp-test").open()
    engine = Evolution(space, make_strategy("renas", space, CONTROLLER, 11), Fitness(), settings,
                       SerialExecutor(DyingEvaluator(die_at)), history=history)
    return engine.run()


def _evals(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines() if '"eval"' in line]


def test_killed_table_search_reaches_the_uninterrupted_result(tmp_path, caplog):
    ref = _search(tmp_path / "ref", None)
    out = tmp_path / "resumed"
    rng = random.Random(0)
    kept: list[dict] = []
    for kill in range(4):
        with pytest.raises(Killed):
            _search(out, rng.randint(3, 12))
        now = _evals(out)
        assert now[: len(kept)] == kept  # nothing finished is lost or rewritten
        kept = now
        if kill == 1:  # a kill in the middle of writing a line
            with open(out / "history.jsonl", "a") as fh:
                fh.write('{"event":"eval","index":99,"arch":"|none~0|+')
    res = _search(out, None)
    assert "torn last line" in caplog.text
    assert [r.task.key for r in res.records] == [r.task.key for r in ref.records]
    assert [r.fitness for r in res.records] == [r.fitness for r in ref.records]
    assert res.best().task.arch == ref.best().task.arch
    assert res.strategy_state["controller"]["theta"].tolist() == ref.strategy_state["controller"]["theta"].tolist()
    lines = _evals(out)
    assert len(lines) == 50 and len({r["index"] for r in lines}) == 50 and len({r["key"] for r in lines}) == 50


def _table_cfg(path: Path, **search) -> Path:
    cfg = {"seed": 1, "device": "cpu", "threads": 1, "space": {"name": "nb201"},
           "search_small": {"strategy": "rea", "population": 5, "sample": 2, "evaluations": 12, "table": TABLE,
                            **search}}
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_history_of_another_config_is_refused(tmp_path):
    out = tmp_path / "run"
    run_stage(load_config(_table_cfg(tmp_path / "a.yaml")), "search_small", out)
    with pytest.raises(EatnasError) as exc:
        run_stage(load_config(_table_cfg(tmp_path / "b.yaml", population=6)), "search_small", out)
    assert "another search config" in str(exc.value) and "\n" not in str(exc.value)
    # changing only the number of workers is allowed (same results)
    best = run_stage(load_config(_table_cfg(tmp_path / "c.yaml", workers=1)), "search_small", out)
    assert best["evaluations"] == 12


DIGITS_CFG = {
    "seed": 2, "device": "cpu", "threads": 1,
    "data": {"small": {"name": "digits", "val_fraction": 0.2, "subset_fraction": 0.3}},
    "space": {"name": "block", "width_multiplier": 0.25, "head_channels": 16, "ops": ["sep", "mb3"]},
    "train": {"batch_size": 32, "eval_batch_size": 1000, "lr": 0.1},
    "search_small": {"strategy": "renas", "population": 2, "sample": 2, "evaluations": 6, "init_epochs": 0.3,
                     "child_epochs": 0.2, "controller": {"embedding": 8, "hidden": 8}},
}


@pytest.mark.timeout(600)
def test_sigkilled_training_search_keeps_every_finished_evaluation(tmp_path):
    cfg = tmp_path / "digits.yaml"
    cfg.write_text(yaml.safe_dump(DIGITS_CFG))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "eatnas", "search", "--config", str(cfg), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = random.Random(3)
    history = out / "history.jsonl"
    kept: list[dict] = []
    for _ in range(2):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        target = len(kept) + 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if history.exists() and len(_evals(out)) >= target:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.8))  # die at a random moment of the next candidate
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _evals(out)
        assert now[: len(kept)] == kept
        kept = now
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = _evals(out)
    assert lines[: len(kept)] == kept
    assert len(lines) == 6
    assert len({r["index"] for r in lines}) == 6 and len({r["key"] for r in lines}) == 6  # nothing trained twice
    best = json.loads((out / "best.json").read_text())
    assert best["evaluations"] == 6 and best["best"]["arch"]
    children = [r for r in lines if not r["init"] and r["status"] == "ok"]
    assert children and all(r["metrics"]["from_checkpoint"] for r in children)  # fine-tuned from parents
