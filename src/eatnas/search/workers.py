"""Executors: run evaluation tasks serially, in worker processes (CPU threads or one GPU each), or on Ray.

Process workers are started with ``spawn``; each sets ``torch.set_num_threads(threads)`` and, on GPU,
sees exactly one device: ``CUDA_VISIBLE_DEVICES`` is set per worker from the devices granted to the
parent (its own ``CUDA_VISIBLE_DEVICES``). A worker that dies (OOM kill, segfault) turns its task into
a failed result and is replaced.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import time
from collections import deque
from typing import Any, Callable, Sequence

from eatnas.errors import ConfigError
from eatnas.search.engine import Executor
from eatnas.search.tasks import EvalResult, EvalTask

log = logging.getLogger(__name__)
Evaluate = Callable[[EvalTask], EvalResult]


class SerialExecutor(Executor):
    """Evaluates in the calling process, first in first out."""

    def __init__(self, evaluator: Evaluate) -> None:
        self.evaluator = evaluator
        self.pending: deque[EvalTask] = deque()

    def submit(self, task: EvalTask) -> None:
        self.pending.append(task)

    def wait(self) -> tuple[EvalTask, EvalResult]:
        task = self.pending.popleft()
        return task, self.evaluator(task)


def granted_gpus() -> list[str]:
    """Device ids granted to this process: its ``CUDA_VISIBLE_DEVICES`` (empty = none/CPU)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is None:
        try:
            import torch

            return [str(i) for i in range(torch.cuda.device_count())]
        except Exception:  # noqa: BLE001 - no usable torch/CUDA means no GPUs
            return []
    return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]


def _worker_main(evaluator: Evaluate, threads: int, name: str, tasks: Any, results: Any) -> None:
    import torch

    torch.set_num_threads(max(1, threads))
    parent = os.getppid()
    while True:
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:  # the search process was killed: do not linger as an orphan
                return
            continue
        if task is None:
            return
        result = evaluator(task)
        result.worker = name
        results.put((task.index, result))


class ProcessExecutor(Executor):
    """``workers`` spawned processes; with ``devices`` given, worker i sees only ``devices[i]``."""

    def __init__(self, evaluator: Evaluate, workers: int, threads: int = 1, devices: Sequence[str] | None = None) -> None:
        if devices:
            if workers > len(devices):
                log.info("%d workers requested but %d GPUs granted: using %d", workers, len(devices), len(devices))
            workers = min(workers, len(devices))
        self.evaluator, self.threads = evaluator, threads
        self.devices = list(devices or [])
        self.ctx = mp.get_context("spawn")
        self.results = self.ctx.Queue()
        self.procs: list[Any] = []
        self.task_queues: list[Any] = []
        self.busy: dict[int, EvalTask] = {}
        self.pending: deque[EvalTask] = deque()
        self.done: deque[tuple[EvalTask, EvalResult]] = deque()
        self.inflight: dict[int, tuple[int, EvalTask]] = {}
        for i in range(workers):
            self._start(i)

    def _name(self, i: int) -> str:
        return f"gpu{self.devices[i]}" if self.devices else f"cpu{i}"

    def _start(self, i: int) -> None:
        q = self.ctx.Queue()
        saved = os.environ.get("CUDA_VISIBLE_DEVICES")
        os.environ["CUDA_VISIBLE_DEVICES"] = self.devices[i] if self.devices else (saved if saved is not None else "")
        if not self.devices and saved is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        try:
            proc = self.ctx.Process(target=_worker_main, args=(self.evaluator, self.threads, self._name(i), q, self.results),
                                    daemon=True, name=f"eatnas-{self._name(i)}")
            proc.start()
        finally:
            if saved is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = saved
        if i < len(self.procs):
            self.procs[i], self.task_queues[i] = proc, q
        else:
            self.procs.append(proc)
            self.task_queues.append(q)

    def _dispatch(self) -> None:
        for i in range(len(self.procs)):
            if i not in self.busy and self.pending:
                task = self.pending.popleft()
                self.busy[i] = task
                self.inflight[task.index] = (i, task)
                self.task_queues[i].put(task)

    def submit(self, task: EvalTask) -> None:
        self.pending.append(task)
        self._dispatch()

    def wait(self) -> tuple[EvalTask, EvalResult]:
        while True:
            try:
                index, result = self.results.get(timeout=0.5)
            except queue.Empty:
                self._reap()
                if self.done:
                    return self.done.popleft()
                continue
            i, task = self.inflight.pop(index)
            self.busy.pop(i, None)
            self._dispatch()
            return task, result

    def _reap(self) -> None:
        """Turn tasks of dead workers into failed results and restart those workers."""
        for i, proc in enumerate(self.procs):
            if not proc.is_alive() and i in self.busy:
                task = self.busy.pop(i)
                self.inflight.pop(task.index, None)
                log.warning("worker %s died (exit code %s) on candidate %d", self._name(i), proc.exitcode, task.index)
                self.done.append((task, EvalResult.failure(f"worker {self._name(i)} died with exit code {proc.exitcode}",
                                                           worker=self._name(i), finished=time.time())))
                self._start(i)
        self._dispatch()

    def close(self) -> None:
        for q in self.task_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self.procs.clear()


def _ray_evaluate(evaluator: Evaluate, task: EvalTask) -> EvalResult:
    result = evaluator(task)
    result.worker = f"ray:{os.uname().nodename}:{os.environ.get('CUDA_VISIBLE_DEVICES', 'cpu')}"
    return result


class RayExecutor(Executor):
    """Sends each evaluation to a Ray cluster as a task with ``num_gpus`` (1 on GPU, 0 on CPU)."""

    def __init__(self, evaluator: Evaluate, num_gpus: float = 0, num_cpus: float = 1, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("search.backend is 'ray' but ray is not installed; pip install 'eatnas[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=address or "auto", log_to_driver=False)
        self.ray = ray
        self.evaluator_ref = ray.put(evaluator)
        self.remote = ray.remote(num_gpus=num_gpus, num_cpus=num_cpus, max_retries=0)(_ray_evaluate)
        self.refs: dict[Any, EvalTask] = {}

    def submit(self, task: EvalTask) -> None:
        self.refs[self.remote.remote(self.evaluator_ref, task)] = task

    def wait(self) -> tuple[EvalTask, EvalResult]:
        (ref,), _ = self.ray.wait(list(self.refs), num_returns=1)
        task = self.refs.pop(ref)
        try:
            result = self.ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a crashed Ray task is a failed candidate
            result = EvalResult.failure(f"ray task failed: {type(exc).__name__}", worker="ray", finished=time.time())
        return task, result

    def close(self) -> None:
        for ref in list(self.refs):
            self.ray.cancel(ref, force=True)
        self.refs.clear()


def make_executor(evaluator: Evaluate, *, workers: int = 1, backend: str = "local", device: str = "cpu",
                  threads: int = 1, ray_address: str | None = None) -> Executor:
    """Serial for one CPU worker; processes for several (or one per granted GPU); Ray on request."""
    if backend == "ray":
        return RayExecutor(evaluator, num_gpus=1 if device == "cuda" else 0, address=ray_address)
    if backend != "local":
        raise ConfigError(f"search.backend {backend!r} is unknown; choose local or ray")
    gpus = granted_gpus() if device == "cuda" else []
    if device == "cuda" and not gpus:
        raise ConfigError("device is 'cuda' but no GPU is granted (CUDA_VISIBLE_DEVICES is empty); use device: cpu")
    if workers <= 1 and len(gpus) <= 1:
        return SerialExecutor(evaluator)
    return ProcessExecutor(evaluator, workers=workers, threads=threads, devices=gpus or None)
