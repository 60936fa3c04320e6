"""Evolution engine: tournament selection, injected mutation strategy, aging or worst removal.

One cycle: sample ``sample`` members of the population, mutate the best with the strategy, evaluate
the child, add it, remove the oldest (aging / regularised evolution) or the worst (JASQ steady state)
once the population exceeds ``population``. Up to ``workers`` candidates are in flight at once
(asynchronous steady state): each finished result enters the population and a new child is proposed.

De-duplication: every child is keyed by ``space.canonical_key``; an already evaluated (or in-flight)
child is a *repeat*: it is not evaluated again, does not count against the budget and does not
enter the population; the strategy still receives its recorded reward, and a new child is proposed.

Resume: the engine is event-sourced. Every proposal (with the number of results seen before it) and
every result is logged (:mod:`eatnas.search.history`); a rerun replays the log through the same
code, which reproduces the population, controller and RNG states exactly, then submits the
proposals whose results were lost and carries on.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from eatnas.errors import ConfigError, EatnasError
from eatnas.search.fitness import Fitness, hypervolume, pareto_front
from eatnas.search.strategies import MutationStrategy
from eatnas.search.tasks import EvalResult, EvalTask
from eatnas.space.base import Action, Arch, SearchSpace
from eatnas.utils.seed import derive_seed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvolutionSettings:
    """Engine settings (the ``$defs/search`` config section without strategy/fitness/controller)."""

    population: int = 8
    sample: int = 3
    removal: str = "oldest"
    evaluations: int = 24
    wall_time_s: float | None = None
    workers: int = 1
    seed: int = 0
    max_repeats: int = 10_000
    walk_after: int = 20

    def __post_init__(self) -> None:
        if self.evaluations <= 0:
            raise ConfigError(f"search.evaluations must be > 0, got {self.evaluations}; set a positive budget")
        if self.wall_time_s is not None and not self.wall_time_s > 0:
            raise ConfigError(f"search.wall_time_s must be > 0 or null, got {self.wall_time_s}")
        if self.population < 1 or self.sample < 1 or self.workers < 1:
            raise ConfigError(f"search.population/sample/workers must be >= 1, got "
                              f"{self.population}/{self.sample}/{self.workers}")
        if self.removal not in ("oldest", "worst"):
            raise ConfigError(f"search.removal {self.removal!r} is unknown; choose oldest or worst")


@dataclass(frozen=True)
class InitCandidate:
    """A member of a given seed population, optionally with weights to inherit (EAT-NAS transfer)."""

    arch: Arch
    checkpoint: str | None = None


@dataclass
class Record:
    """One finished evaluation as the engine keeps it."""

    task: EvalTask
    result: EvalResult
    order: int  # position in completion order
    fitness: float | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok


@dataclass
class SearchResult:
    """Everything a finished search returns (records in completion order)."""

    records: list[Record]
    population: list[Record]
    evaluations: int
    repeats: int
    fitness: Fitness
    stopped: str
    strategy_state: dict[str, Any] = field(default_factory=dict)

    def ranked(self) -> list[Record]:
        """Successful records, best fitness first (ties: earlier first)."""
        ok = [r for r in self.records if r.ok and r.fitness is not None]
        return sorted(ok, key=lambda r: (-r.fitness, r.order))

    def best(self) -> Record | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def pareto(self) -> tuple[list[Record], float | None]:
        """Pareto front over (accuracy, cost) of every successful record, and its hypervolume.

        Hypervolume reference point: accuracy 0 and cost = 1.1 x the largest cost evaluated.
        """
        ok = [r for r in self.records if r.ok and self.fitness.cost in r.result.metrics]
        if not ok:
            return [], None
        pts = [(float(r.result.metrics["accuracy"]), float(r.result.metrics[self.fitness.cost])) for r in ok]
        ref = 1.1 * max(c for _, c in pts) or 1.0
        return [ok[i] for i in pareto_front(pts)], hypervolume(pts, ref_cost=ref)


class Executor:
    """Runs evaluation tasks; see :mod:`eatnas.search.workers`."""

    def submit(self, task: EvalTask) -> None:  # pragma: no cover - interface
        raise EatnasError("executor does not implement submit")

    def wait(self) -> tuple[EvalTask, EvalResult]:  # pragma: no cover - interface
        raise EatnasError("executor does not implement wait")

    def close(self) -> None:
        """Release workers."""


class Evolution:
    """The search loop; space, strategy, fitness and executor (wrapping the evaluator) are injected."""

    def __init__(self, space: SearchSpace, strategy: MutationStrategy, fitness: Fitness, settings: EvolutionSettings,
                 executor: Executor, *, init: Sequence[InitCandidate] = (), history: Any = None,
                 on_record: Callable[[Record], None] | None = None) -> None:
        if strategy.removal is not None and settings.removal != strategy.removal:
            raise ConfigError(f"strategy {strategy.name!r} implies removal {strategy.removal!r}, but search.removal is "
                              f"{settings.removal!r}; change one of them")
        self.space, self.strategy, self.fitness, self.s = space, strategy, fitness, settings
        self.executor, self.history, self.on_record = executor, history, on_record
        self.rng = random.Random(derive_seed(settings.seed, "evolution"))
        self.init_queue = list(init)
        self.n_init = max(settings.population, len(self.init_queue))
        self.population: list[Record] = []
        self.records: list[Record] = []
        self.by_key: dict[str, Record] = {}
        self.inflight: dict[int, EvalTask] = {}
        self.inflight_keys: set[str] = set()
        self.checkpoints: dict[str, str | None] = {}
        self.n_proposed = 0
        self.n_init_proposed = 0
        self.repeats = 0
        self._streak = 0
        self.stopped = ""
        self.elapsed_offset = 0.0
        self._replaying = False
        self._t0 = time.monotonic()

    # --- public -------------------------------------------------------------------------------
    def run(self) -> SearchResult:
        """Replay any logged history, then evolve until the budget is spent; returns the result."""
        if self.history is not None:
            self._replay(*self.history.load())
            for task in sorted(self.inflight.values(), key=lambda t: t.index):
                log.info("resubmitting candidate %d (%s) lost by the interrupted run", task.index, task.arch)
                self.executor.submit(task)
        self._t0 = time.monotonic()
        try:
            while True:
                while len(self.inflight) < self.s.workers:
                    task = self._next_task()
                    if task is None:
                        break
                    if self.history is not None:
                        self.history.log_proposal(task, told_before=len(self.records))
                    self.inflight[task.index] = task
                    self.inflight_keys.add(task.key)
                    self.executor.submit(task)
                if not self.inflight:
                    break
                task, result = self.executor.wait()
                record = self._tell(task, result)
                if self.history is not None:
                    self.history.log_result(record, elapsed_s=self.elapsed(), space=self.space)
                    self.history.snapshot(self)
                if self.on_record is not None:
                    self.on_record(record)
        finally:
            self.executor.close()
        return self.result()

    def elapsed(self) -> float:
        return self.elapsed_offset + time.monotonic() - self._t0

    def result(self) -> SearchResult:
        return SearchResult(records=list(self.records), population=list(self.population),
                            evaluations=len(self.records), repeats=self.repeats, fitness=self.fitness,
                            stopped=self.stopped or "budget", strategy_state=self.strategy.state_dict())

    def is_new(self, arch: Arch) -> bool:
        key = self.space.canonical_key(arch)
        return key not in self.by_key and key not in self.inflight_keys

    # --- proposing ----------------------------------------------------------------------------
    def _budget_left(self) -> bool:
        if self.n_proposed >= self.s.evaluations:
            self.stopped = self.stopped or "evaluations"
            return False
        if not self._replaying and self.s.wall_time_s is not None and self.elapsed() >= self.s.wall_time_s:
            self.stopped = self.stopped or "wall_time"
            return False
        return True

    def _next_task(self) -> EvalTask | None:
        if not self._budget_left():
            return None
        misses = 0
        while misses <= self.s.max_repeats:
            if self.n_init_proposed < self.n_init:
                task = self._init_task()
                if task is None:
                    misses += 1
                    continue
                return task
            if self.fitness.needs_target and self._init_pending():
                return None  # the JASQ target needs the whole initial population first
            if not self.population:
                if self.inflight:
                    return None
                self.n_init += 1  # everything failed so far: draw another random member
                continue
            task = self._child_task()
            if task is not None:
                return task
            misses += 1
        log.warning("no new architecture after %d repeats in a row; stopping the search", misses)
        self.stopped = "exhausted"
        return None

    def _init_pending(self) -> bool:
        return any(t.init for t in self.inflight.values())

    def _init_task(self) -> EvalTask | None:
        """The next initial member: given seed candidates first, then random samples; None on a repeat."""
        checkpoint = None
        if self.init_queue:
            cand = self.init_queue.pop(0)
            arch, checkpoint = cand.arch, cand.checkpoint
            try:
                self.space.validate(arch)
            except ValueError as exc:
                raise ConfigError(f"seed population member {arch!r} is not valid in space {self.space.name!r}: {exc}") from None
        else:
            arch = self.space.sample(self.rng)
        if not self.is_new(arch):
            self.repeats += 1
            return None
        self.n_init_proposed += 1
        return self._make_task(arch, init=True, parent_checkpoint=checkpoint)

    def _tournament(self) -> Record:
        k = min(self.s.sample, len(self.population))
        contenders = self.rng.sample(range(len(self.population)), k)
        best = max(contenders, key=lambda i: (self.population[i].fitness, -i))
        return self.population[best]

    def _child_task(self) -> EvalTask | None:
        parent = self._tournament()
        parent_arch = self.space.decode(parent.task.arch)
        action = self.strategy.propose(parent_arch, self.rng, self.is_new)
        child = self.space.apply(parent_arch, action)
        key = self.space.canonical_key(child)
        if key in self.by_key or key in self.inflight_keys:
            self.repeats += 1
            self._streak += 1
            seen = self.by_key.get(key)
            if seen is not None and seen.fitness is not None:
                self.strategy.feedback(parent_arch, action, seen.fitness - parent.fitness)
            if self._streak < self.s.walk_after:
                return None
            child = self._walk(child)  # every nearby child is known: step further away at random
            if child is None:
                return None
            action = None
        self._streak = 0
        return self._make_task(child, init=False, parent=parent, action=action)

    def _walk(self, arch: Arch, max_steps: int = 100) -> Arch | None:
        """Random single-token steps from ``arch`` until an unevaluated architecture is reached."""
        for _ in range(max_steps):
            actions = self.space.actions(arch)
            if not actions:
                return None
            arch = self.space.apply(arch, actions[self.rng.randrange(len(actions))])
            if self.is_new(arch):
                return arch
        return None

    def _make_task(self, arch: Arch, *, init: bool, parent: Record | None = None, action: Action | None = None,
                   parent_checkpoint: str | None = None) -> EvalTask:
        index = self.n_proposed
        self.n_proposed += 1
        if parent is not None:
            parent_checkpoint = parent.result.checkpoint
        return EvalTask(index=index, arch=self.space.encode(arch), key=self.space.canonical_key(arch),
                        seed=derive_seed(self.s.seed, "candidate", index), init=init,
                        parent_key=parent.task.key if parent else None,
                        parent_index=parent.task.index if parent else None,
                        parent_fitness=parent.fitness if parent else None,
                        parent_checkpoint=parent_checkpoint,
                        action=(action.position, action.value) if action else None)

    # --- telling ------------------------------------------------------------------------------
    def _tell(self, task: EvalTask, result: EvalResult) -> Record:
        self.inflight.pop(task.index, None)
        self.inflight_keys.discard(task.key)
        record = Record(task=task, result=result, order=len(self.records))
        if result.ok and not math.isfinite(float(result.metrics.get("accuracy", math.nan))):
            record.result = EvalResult.failure(f"non-finite accuracy {result.metrics.get('accuracy')!r}",
                                               metrics=result.metrics, worker=result.worker,
                                               started=result.started, finished=result.finished)
        self.records.append(record)
        self.by_key[task.key] = record
        if record.ok:
            if not self.fitness.needs_target:
                record.fitness = self.fitness(record.result.metrics)
            self.population.append(record)
            if task.action is not None and task.parent_fitness is not None and record.fitness is not None:
                parent_arch = self.space.decode(self._arch_of(task.parent_key, task))
                self.strategy.feedback(parent_arch, Action(*task.action), record.fitness - task.parent_fitness)
            self._trim()
        if self.fitness.needs_target and self.n_init_proposed >= self.n_init and not self._init_pending():
            self.fitness.calibrate(r.result.metrics for r in self.records if r.ok and r.task.init)
            if not self.fitness.needs_target:
                for r in self.records:
                    if r.ok:
                        r.fitness = self.fitness(r.result.metrics)
        return record

    def _arch_of(self, key: str | None, task: EvalTask) -> str:
        parent = self.by_key.get(key) if key else None
        if parent is None:
            raise EatnasError(f"candidate {task.index}: parent {key!r} is not in the history; the history is corrupted")
        return parent.task.arch

    def _trim(self) -> None:
        while len(self.population) > self.s.population:
            if self.s.removal == "oldest" or self.fitness.needs_target:
                self.population.pop(0)
            else:
                worst = min(range(len(self.population)), key=lambda i: (self.population[i].fitness, i))
                self.population.pop(worst)

    # --- replay -------------------------------------------------------------------------------
    def _replay(self, proposals: list[dict], results: list[dict]) -> None:
        """Re-run the logged proposals and results through the engine (same code, same RNG)."""
        i = j = 0
        self._replaying = True
        while i < len(proposals) or j < len(results):
            if j < len(results) and (i >= len(proposals) or proposals[i]["told_before"] > j):
                rec = results[j]
                task = self.inflight.get(rec["index"])
                if task is None or task.key != rec["key"]:
                    raise EatnasError(f"history line for candidate {rec['index']} does not match the replayed search "
                                      f"(code or config changed); use a new --out directory")
                self._tell(task, EvalResult(status=rec["status"], metrics=rec.get("metrics") or {},
                                            checkpoint=rec.get("checkpoint"), error=rec.get("error"),
                                            worker=rec.get("worker", "?"), started=rec.get("started", 0.0),
                                            finished=rec.get("finished", 0.0)))
                self.elapsed_offset = max(self.elapsed_offset, float(rec.get("elapsed_s", 0.0)))
                j += 1
            else:
                want = proposals[i]
                task = self._next_task()
                if task is None or task.index != want["index"] or task.key != want["key"]:
                    raise EatnasError(f"proposal {want['index']} ({want['arch']}) in the history differs from the "
                                      f"replayed search (code or config changed); use a new --out directory")
                self.inflight[task.index] = task
                self.inflight_keys.add(task.key)
                i += 1
        self._replaying = False
        self.stopped = ""
