"""Values passed between the engine, the executors and the evaluators (all picklable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class EvalTask:
    """One candidate to evaluate.

    ``index`` is the proposal number (0-based, unique within a search); ``seed`` derives from the
    search seed and the index; ``parent_checkpoint`` is the weights to fine-tune from (a mutated
    child's parent, or a seed-population member's inherited checkpoint), None = from scratch.
    """

    index: int
    arch: str
    key: str
    seed: int
    init: bool
    parent_key: str | None = None
    parent_index: int | None = None
    parent_fitness: float | None = None
    parent_checkpoint: str | None = None
    action: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalResult:
    """What an evaluator reports; ``status`` is ``ok`` or ``failed`` (then ``error`` says why)."""

    status: str = "ok"
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    error: str | None = None
    worker: str = "main"
    started: float = 0.0
    finished: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failure(cls, error: str, **kw: Any) -> "EvalResult":
        return cls(status="failed", error=error, **kw)
