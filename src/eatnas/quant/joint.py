"""Joint architecture + bit-width search (JASQ): one genome (:class:`eatnas.space.quant.QuantSpace`),
one evolution, mutations on either the architecture or the bit genes.

Training protocol (``child_epochs``):
* ``None`` (from scratch): each candidate's base architecture is trained in float (``epochs``, seed
  derived from the run seed and the *base architecture*, so the same architecture gets the same weights
  in every method), then post-training quantized with its bit genes and validated. PTQ does not change
  the float training, so a trained base network is cached and a child that only changes bit genes
  reuses it (it still counts as one evaluation).
* a number (JASQ's weight inheritance, papers.md §2.5): initial members train ``epochs`` from scratch as
  above; every child starts from its *parent's* float weights (:func:`eatnas.train.inherit_weights`, so
  an architecture mutation keeps every tensor that still fits) and trains ``child_epochs`` more with the
  task's seed, bits-only children included, then PTQ with its own bits. Float weights thus accumulate
  training along a lineage. Every float network is kept in memory (``lineage``) or, with ``checkpoint_dir``,
  only as a float checkpoint on disk (so a resumed search finds its parents and memory stays flat).

Metrics: ``accuracy`` (quantized, validation), ``float_accuracy``, ``size_mb`` (packed), ``params``,
``trained`` (1 when this evaluation trained) and ``epochs`` (float training behind its weights).

Selection (``selection``):
* ``fitness``: the engine's tournament on the JASQ scalar fitness ``acc·(size/T)^w`` (one target T, the
  search converges towards one point of the front);
* ``pareto``: :class:`ParetoEvolution`, the parent is drawn from the non-dominated set over
  (accuracy, size) of *every* evaluated candidate (archive-based multi-objective evolution), so the
  search pushes along the whole front. The JASQ fitness still ranks ``SearchResult.best()``.

Initial population (``init="uniform_bits"``): random architectures, each with one random bit-width for
all of its units, cycling through the bit set so that the sizes cover the range (the JASQ code draws
every unit's bits independently, ``init="random"``: with 2 in the set nearly every member then has a
2-bit unit, which ruins accuracy). ``init="size_spread"``: the same, with the architectures spread over
the parameter count of many random draws (:func:`size_spread_init`).
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from eatnas.quant.apply import quantize_model
from eatnas.quant.errors import QuantError
from eatnas.quant.pareto import GroupedMutation, ParetoEvolution
from eatnas.quant.policy import average_bits
from eatnas.quant.settings import QuantSettings
from eatnas.quant.size import model_size
from eatnas.search.engine import Evolution, EvolutionSettings, InitCandidate, Record, SearchResult
from eatnas.search.evaluators import Evaluator
from eatnas.search.fitness import Fitness
from eatnas.search.history import SearchHistory
from eatnas.search.strategies import make_strategy
from eatnas.search.tasks import EvalResult, EvalTask
from eatnas.search.workers import SerialExecutor
from eatnas.space.base import BuildSpec, SearchSpace
from eatnas.space.quant import QuantSpace
from eatnas.train.config import TrainConfig
from eatnas.quant.search import engine_settings
from eatnas.utils.io import append_jsonl
from eatnas.utils.seed import derive_seed


INITS = ("random", "uniform_bits", "size_spread")


def train_seed(seed: int, base_key: str) -> int:
    """Training seed of a base architecture: the same in every method of a run."""
    return derive_seed(seed, "train", base_key)


class JointEvaluator(Evaluator):
    """Train the base architecture (cached per base architecture), quantize with the bit genes, validate.

    Training and validation run on ``device`` (validation batches of ``train_cfg.eval_batch_size``); the
    float networks are kept on the CPU between evaluations.
    """

    def __init__(self, space: QuantSpace, splits: Any, epochs: float, train_cfg: Any, device: str = "cpu",
                 scheme: str = "per_channel", keep_models: bool = False, seed: int = 0,
                 size_format: str = "packed", child_epochs: float | None = None,
                 checkpoint_dir: str | Path | None = None) -> None:
        self.space, self.splits, self.epochs, self.train_cfg = space, splits, epochs, train_cfg
        self.device, self.scheme, self.keep_models, self.seed = device, scheme, keep_models, seed
        self.size_format = size_format
        if child_epochs is not None and child_epochs < 0:
            raise ValueError(f"child_epochs must be >= 0 or None (from scratch), got {child_epochs}")
        self.child_epochs = child_epochs
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.spec = BuildSpec(splits.num_classes, splits.resolution, splits.in_channels)
        self.eval_batch_size = int(getattr(train_cfg, "eval_batch_size", TrainConfig.eval_batch_size))
        self.trained: dict[str, tuple[torch.nn.Module, Any]] = {}  # base key -> (trained float model, metrics)
        self.models: dict[str, torch.nn.Module] = {}  # candidate key -> trained float model (keep_models)
        self.lineage: dict[int, tuple[torch.nn.Module, float]] = {}  # task index -> (float model, its epochs)
        self.trainings = 0

    @property
    def inherits(self) -> bool:
        return self.child_epochs is not None

    def float_model(self, base_arch: Any) -> tuple[torch.nn.Module, Any, bool]:
        """The trained float network of ``base_arch`` (trained on first use), its metrics, and whether it trained now."""
        from eatnas.train.trainer import train_model

        key = self.space.base.canonical_key(base_arch)
        if key in self.trained:
            return (*self.trained[key], False)
        seed = train_seed(self.seed, key)
        with torch.random.fork_rng():  # the initial weights too depend only on the seed and the architecture
            torch.manual_seed(seed)
            model = self.space.base.build(base_arch, self.spec)
        m = train_model(model, self.splits, epochs=self.epochs, cfg=self.train_cfg, device=self.device, seed=seed)
        model = model.to("cpu").eval()
        self.trained[key] = (model, m)
        self.trainings += 1
        return model, m, True

    def saved_weights(self, index: int | None, checkpoint: str | None) -> tuple[dict[str, torch.Tensor], float] | None:
        """The float state dict and training epochs an inheriting evaluation ``index`` left (in memory, else
        in its ``checkpoint``), or None when neither holds it."""
        if index in self.lineage:
            model, epochs = self.lineage[index]
            return model.state_dict(), epochs
        if checkpoint and Path(checkpoint).is_file():
            from eatnas.train import load_checkpoint

            ckpt = load_checkpoint(checkpoint)
            return ckpt["model"], float(ckpt.get("extra", {}).get("epochs", self.epochs))
        return None

    def network_of(self, record: Record) -> torch.nn.Module:
        """The float network behind an evaluated candidate: its own saved weights when inheriting, otherwise
        its architecture trained from its seed (cached; the same weights after a resume)."""
        base_arch = self.space.decode(record.task.arch).base
        if not self.inherits:
            return self.float_model(base_arch)[0]
        saved = self.saved_weights(record.task.index, record.result.checkpoint)
        if saved is None:
            raise QuantError(f"joint candidate {record.task.index} has no saved float weights; "
                             "rerun the search in an empty folder")
        model = self.space.base.build(base_arch, self.spec)
        model.load_state_dict(saved[0])
        return model.eval()

    def fine_tuned(self, base_arch: Any, parent_state: dict[str, torch.Tensor], seed: int) -> tuple[torch.nn.Module, Any]:
        """``base_arch`` initialised from ``parent_state`` (what fits) and trained ``child_epochs`` with ``seed``."""
        from eatnas.train import inherit_weights
        from eatnas.train.trainer import train_model

        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = self.space.base.build(base_arch, self.spec)
        inherit_weights(model, parent_state)
        m = train_model(model, self.splits, epochs=self.child_epochs, cfg=self.train_cfg, device=self.device, seed=seed)
        self.trainings += 1
        return model.to("cpu").eval(), m

    def evaluate(self, task: EvalTask) -> EvalResult:
        from eatnas.train.trainer import evaluate

        arch = self.space.decode(task.arch)
        inheriting = self.inherits and not task.init
        parent = self.saved_weights(task.parent_index, task.parent_checkpoint) if inheriting else None
        if inheriting and parent is None:
            raise QuantError(f"candidate {task.index} ({task.arch}): the weights of its parent {task.parent_index} are "
                             "neither in memory nor in a checkpoint; rerun the search from scratch in an empty folder")
        if parent is not None:
            model, m = self.fine_tuned(arch.base, parent[0], task.seed)
            fresh, epochs = True, parent[1] + float(self.child_epochs)
        else:
            model, m, fresh = self.float_model(arch.base)
            epochs = float(self.epochs)
        checkpoint = None
        if self.inherits and self.checkpoint_dir is not None:  # on disk only: memory stays flat on long searches
            from eatnas.train import save_checkpoint

            checkpoint = str(self.checkpoint_dir / f"{task.index:05d}.pt")
            save_checkpoint(checkpoint, model, arch=task.arch, extra={"index": task.index, "epochs": epochs})
        elif self.inherits:
            self.lineage[task.index] = (model, epochs)
        policy = self.space.policy(arch, model)
        quantized = quantize_model(model, policy, self.scheme).to(self.device)  # validated on the job's device
        qacc = evaluate(quantized, self.splits.val, self.device, self.eval_batch_size)[0]
        if self.keep_models:
            self.models[task.key] = model
        return EvalResult(metrics={"accuracy": qacc, "float_accuracy": m.accuracy, "params": m.params, "macs": m.macs,
                                   "size_mb": model_size(model, policy, self.scheme, self.size_format).mb,
                                   "avg_bits": average_bits(model, policy), "trained": int(fresh), "epochs": epochs},
                          checkpoint=checkpoint)


def uniform_bits_init(space: QuantSpace, n: int, seed: int, first: Sequence[Any] = ()) -> list[InitCandidate]:
    """``n`` architectures (distinct base networks: ``first``, then random ones), member ``i`` with all units
    at one bit-width, cycling through a shuffled bit set. The architectures depend only on ``seed``,
    ``first`` and the base space, so searches over the same base space with different bit sets start from
    the same networks."""
    arch_rng, bit_rng = random.Random(derive_seed(seed, "init", "arch")), random.Random(derive_seed(seed, "init", "bits"))
    order = list(space.bits)
    bit_rng.shuffle(order)
    out, seen = [], set()
    given = list(first)
    while len(out) < n:
        base = given.pop(0) if given else space.base.sample(arch_rng)
        key = space.base.canonical_key(base)
        if key not in seen:
            seen.add(key)
            out.append(InitCandidate(space.with_bits(base, order[len(out) % len(order)])))
    return out


def size_spread_init(space: QuantSpace, n: int, seed: int, spec: BuildSpec, first: Sequence[Any] = (),
                     pool: int = 16) -> list[InitCandidate]:
    """As :func:`uniform_bits_init`, but the random architectures are spread over the size axis: ``pool``×n
    distinct random base architectures are drawn and, for ``n - len(first)`` sizes evenly spaced in
    log(parameter count) from the smallest draw to the largest (analytic, nothing is built or trained),
    the nearest draw is kept. A random population clusters at medium sizes (every block field is drawn
    independently), so the small end of the front would be reached only by many one-field mutations."""
    arch_rng = random.Random(derive_seed(seed, "init", "spread"))
    given = list(first)
    seen = {space.base.canonical_key(a) for a in given}
    drawn: dict[str, tuple[int, Any]] = {}
    want, tries = pool * n, 0
    while len(drawn) < want and tries < 20 * want:  # small spaces: stop when no new architecture turns up
        tries += 1
        arch = space.base.sample(arch_rng)
        key = space.base.canonical_key(arch)
        if key not in seen and key not in drawn:
            drawn[key] = (space.base.cost(arch, spec).params, arch)
    ranked = sorted(drawn.items(), key=lambda kv: (kv[1][0], kv[0]))  # (key, (params, arch)) by size
    picks: list[Any] = []
    k = min(n - len(given), len(ranked))
    if k > 0:
        lo, hi = math.log(ranked[0][1][0]), math.log(ranked[-1][1][0])
        left = list(ranked)
        for i in range(k):  # the nearest still unpicked draw to each of k log-spaced sizes
            target = lo + (hi - lo) * i / max(k - 1, 1)
            j = min(range(len(left)), key=lambda j: abs(math.log(left[j][1][0]) - target))
            picks.append(left.pop(j)[1][1])
    return uniform_bits_init(space, n, seed, given + picks)


def make_engine(space: SearchSpace, evaluator: Evaluator, qs: QuantSettings, seed: int, *, selection: str = "fitness",
                init: Sequence[InitCandidate] = (), history: Path | None = None, grouped: bool = False,
                resume: SearchHistory | None = None, on_record: Callable[[Record], None] | None = None) -> Evolution:
    """An evolution over ``space`` with the JASQ fitness on ``size_mb`` and the chosen parent ``selection``;
    ``grouped``: :class:`GroupedMutation` instead of the configured strategy (QuantSpace only).

    ``history``: a fresh ``history.jsonl`` of every evaluation (benches); ``resume``: an opened
    :class:`SearchHistory` instead, which also logs proposals and snapshots, so that a rerun replays the
    logged evaluations and continues (pipeline stages).
    """
    if selection not in ("fitness", "pareto"):
        raise ValueError(f"selection {selection!r} is unknown; choose fitness or pareto")
    settings, strategy_name, controller = engine_settings(qs.search, seed)
    if init:
        settings = EvolutionSettings(**{**settings.__dict__, "population": max(settings.population, len(init))})
    fitness = Fitness(objective="jasq", cost="size_mb", target=qs.target_mb, alpha=qs.alpha, beta=qs.beta)
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        history.unlink(missing_ok=True)

    def record(rec: Record) -> None:
        if history is not None:
            append_jsonl(history, {**rec.task.to_dict(), "status": rec.result.status, "metrics": rec.result.metrics,
                                   "error": rec.result.error})
        if on_record is not None:
            on_record(rec)

    cls = ParetoEvolution if selection == "pareto" else Evolution
    strategy = (GroupedMutation(space, None, seed) if grouped and isinstance(space, QuantSpace)
                else make_strategy(strategy_name, space, controller, seed=seed))
    return cls(space, strategy, fitness, settings,
               SerialExecutor(evaluator), init=list(init), history=resume, on_record=record)


def run_joint_search(space: QuantSpace, splits: Any, qs: QuantSettings, epochs: float, train_cfg: Any,
                     seed: int = 0, out: str | Path | None = None, keep_models: bool = False,
                     device: str = "cpu", selection: str = "fitness",
                     init: str = "random", cache: dict | None = None,
                     init_archs: Sequence[Any] = (), grouped: bool = False, resume: SearchHistory | None = None,
                     on_record: Callable[[Record], None] | None = None, child_epochs: float | None = None,
                     checkpoint_dir: str | Path | None = None,
                     init_members: Sequence[InitCandidate] = ()) -> tuple[SearchResult, JointEvaluator]:
    """One evolution over architecture + bit genes (``qs.search`` budget); see the module docstring.

    ``cache``: a shared ``{base key: (trained float model, metrics)}`` dict (training is deterministic per
    base architecture and seed, so sharing it between searches only saves time).
    ``init_archs``: base architectures placed first in a ``uniform_bits`` / ``size_spread`` initial population.
    ``grouped``: mutation group (architecture / one unit's bits / all bits) drawn first (:class:`GroupedMutation`).
    ``resume``: an opened :class:`SearchHistory` (then ``out`` gets no separate history file): the search
    replays what it logged and continues. ``on_record``: called after every evaluation.
    ``child_epochs``: None = every network from scratch; a number = children inherit their parent's float
    weights and train that long (JASQ); ``checkpoint_dir`` keeps every float network on disk (needed to
    resume an inheriting search). ``init_members``: the initial population as given (overrides ``init``).
    """
    if init not in INITS:
        raise ValueError(f"init {init!r} is unknown; choose one of {', '.join(INITS)}")
    evaluator = JointEvaluator(space, splits, epochs, train_cfg, device, qs.scheme, keep_models, seed, qs.size_format,
                               child_epochs, checkpoint_dir)
    settings, _, _ = engine_settings(qs.search, seed)
    if cache is not None:
        evaluator.trained = cache
    if init_members:
        members = list(init_members)
    elif init == "uniform_bits":
        members = uniform_bits_init(space, settings.population, seed, init_archs)
    elif init == "size_spread":
        members = size_spread_init(space, settings.population, seed, evaluator.spec, init_archs)
    else:  # random: the engine samples every gene
        members = []
    history = Path(out) / "history.jsonl" if out is not None and resume is None else None
    engine = make_engine(space, evaluator, qs, seed, selection=selection, init=members, history=history,
                         grouped=grouped, resume=resume, on_record=on_record)
    return engine.run(), evaluator
