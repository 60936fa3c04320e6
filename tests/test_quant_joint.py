"""Joint-search helpers: uniform-bit initial population, Pareto parent selection, trained-network cache."""

import pytest
from torch import nn

from eatnas.quant.joint import JointEvaluator, size_spread_init, train_seed, uniform_bits_init
from eatnas.quant.search import run_policy_search
from eatnas.quant.settings import QuantSettings
from eatnas.search.fitness import pareto_front
from eatnas.space.base import BuildSpec, get_space
from eatnas.space.quant import PolicySpace, QuantSpace

BASE = {"ops": ("sep", "mb3"), "kernels": (3, 5), "layers": (1, 2), "widths": (0.5, 1.0), "head_channels": 32}


def test_uniform_bits_init_covers_the_bit_set_with_shared_architectures():
    base = get_space("block", **BASE)
    joint = QuantSpace(base, bits=(2, 4, 8, 16, 32), granularity="block")
    floats = QuantSpace(base, bits=(32,), granularity="block", unit_names=joint.unit_names)
    a, b = uniform_bits_init(joint, 10, seed=3), uniform_bits_init(floats, 10, seed=3)
    assert all(len(set(c.arch.bits)) == 1 for c in a)  # one bit-width per member
    assert {c.arch.bits[0] for c in a} == {2, 4, 8, 16, 32}  # cycling through the set
    assert len({base.canonical_key(c.arch.base) for c in a}) == 10
    assert [c.arch.base for c in a] == [c.arch.base for c in b]  # same networks whatever the bit set
    assert all(c.arch.bits == (32,) * len(joint.unit_names) for c in b)


def test_size_spread_init_spans_a_wider_size_range_than_random_draws():
    base = get_space("block", **BASE)
    joint = QuantSpace(base, bits=(2, 4, 8, 16, 32), granularity="block")
    spec = BuildSpec(10, 8, 1)
    params = lambda members: sorted(base.cost(c.arch.base, spec).params for c in members)
    for seed in range(3):
        spread, rand = params(size_spread_init(joint, 8, seed, spec)), params(uniform_bits_init(joint, 8, seed))
        assert len(set(spread)) == 8
        assert spread[0] <= rand[0] and spread[-1] >= rand[-1]
        assert spread[-1] / spread[0] > 4  # the ends of 128 draws
    first = [base.preset("tiny")]
    members = size_spread_init(joint, 8, 0, spec, first)
    assert members[0].arch.base == first[0] and len({base.canonical_key(c.arch.base) for c in members}) == 8
    assert {c.arch.bits[0] for c in members[:5]} == {2, 4, 8, 16, 32}  # bits cycle as in uniform_bits_init
    assert [c.arch for c in size_spread_init(joint, 8, 0, spec, first)] == [c.arch for c in members]


def test_train_seed_depends_on_architecture_only():
    assert train_seed(0, "x") == train_seed(0, "x") != train_seed(0, "y")


@pytest.mark.parametrize("selection", ["pareto", "fitness"])
def test_policy_search_selection(selection):
    net = PolicySpace.test_instance().model
    # accuracy grows with the mean bit-width, saturating: a real trade-off against size
    acc = lambda m: 100.0 - 400.0 / (1 + sum(p.detach().abs().sum().item() for p in m.parameters()) % 7)
    qs = QuantSettings(bits=(2, 4, 8, 32), granularity="layer", search={"strategy": "rea", "population": 4, "sample": 2,
                                                                        "evaluations": 14})
    _, res = run_policy_search(net, acc, qs, None, seed=0, selection=selection)
    assert len(res.records) == 14
    if selection == "pareto":  # every child's parent was on the front of the evaluations before it
        for i, r in enumerate(res.records):
            if r.task.parent_index is None:
                continue
            prev = res.records[:i]
            front = pareto_front([(p.result.metrics["accuracy"], p.result.metrics["size_mb"]) for p in prev])
            assert r.task.parent_index in {prev[j].task.index for j in front}


def test_policy_search_rejects_unknown_selection():
    with pytest.raises(ValueError, match="selection"):
        run_policy_search(nn.Sequential(nn.Linear(2, 2)), lambda m: 0.0, QuantSettings(bits=(4, 8)), None,
                          selection="nsga")


def test_joint_evaluator_trains_each_base_architecture_once(monkeypatch):
    import eatnas.train.trainer as trainer
    from eatnas.train.config import TrainConfig

    calls, validations = [], []

    class M:
        accuracy, params, macs = 50.0, 1, 1

    def fake_train(model, splits, **kw):
        calls.append(kw["seed"])
        return M()

    monkeypatch.setattr(trainer, "train_model", fake_train)

    def fake_evaluate(model, split, device, batch_size):
        validations.append((device, batch_size))
        return 42.0, 0.0

    monkeypatch.setattr(trainer, "evaluate", fake_evaluate)

    class Splits:
        num_classes, resolution, in_channels, val = 10, 8, 1, None

    space = QuantSpace(get_space("block", **BASE), bits=(4, 8), granularity="block")
    ev = JointEvaluator(space, Splits(), epochs=1, train_cfg=TrainConfig(eval_batch_size=123), seed=5, device="cpu")
    base = space.base.preset("tiny")
    from eatnas.search.tasks import EvalTask

    for i, b in enumerate((4, 8)):
        arch = space.with_bits(base, b)
        res = ev.evaluate(EvalTask(index=i, arch=space.encode(arch), key=space.canonical_key(arch), seed=i, init=False))
        assert res.metrics["trained"] == (1 if i == 0 else 0) and res.metrics["accuracy"] == 42.0
    assert calls == [train_seed(5, space.base.canonical_key(base))]
    assert validations == [("cpu", 123)] * 2  # PTQ copies are validated on the job's device, config batch size


def test_uniform_moves_set_every_bit_gene():
    space = QuantSpace(get_space("block", **BASE), bits=(2, 4, 8), granularity="block", uniform_moves=True)
    arch = space.with_bits(space.base.preset("tiny"), [2, 4] * 5)
    moves = [a for a in space.actions(arch) if a.position == len(space.vocab_sizes())]
    assert [space.apply(arch, a).bits for a in moves] == [(b,) * 10 for b in (2, 4, 8)]
    assert space.action_name(moves[0].position) == "bits.all"  # logged by name in the search history
    assert space.action_name(0) == space.position_names()[0]
    uniform = space.with_bits(arch.base, 8)
    assert len([a for a in space.actions(uniform) if a.position == len(space.vocab_sizes())]) == 2
    plain = QuantSpace(space.base, bits=(2, 4, 8), granularity="block", unit_names=space.unit_names)
    assert all(a.position < len(plain.vocab_sizes()) for a in plain.actions(arch))


def test_grouped_mutation_draws_each_group():
    import random

    from eatnas.quant.pareto import GroupedMutation

    space = QuantSpace(get_space("block", **BASE), bits=(2, 4, 8), granularity="block", uniform_moves=True)
    arch = space.with_bits(space.base.preset("tiny"), 8)
    strat, rng, n = GroupedMutation(space), random.Random(0), len(space.vocab_sizes())
    pos = [strat.propose(arch, rng, lambda a: True).position for _ in range(300)]
    assert 70 < sum(p < 35 for p in pos) < 130 and 70 < sum(p == n for p in pos) < 130


def _task(space, arch, index, *, init=False, parent=None, checkpoint=None):
    from eatnas.search.tasks import EvalTask

    return EvalTask(index=index, arch=space.encode(arch), key=space.canonical_key(arch), seed=index, init=init,
                    parent_index=parent, parent_checkpoint=checkpoint)


def test_inheriting_children_start_from_their_parents_weights(digits_splits, tmp_path):
    import torch

    from eatnas.quant.errors import QuantError
    from eatnas.train import TrainConfig

    space = QuantSpace(get_space("block", **BASE), bits=(4, 8, 32), granularity="block")
    cfg = TrainConfig(lr=0.1, batch_size=64)
    ev = JointEvaluator(space, digits_splits, epochs=6, train_cfg=cfg, child_epochs=0, checkpoint_dir=tmp_path)
    tiny = space.base.preset("tiny")
    r0 = ev.evaluate(_task(space, space.with_bits(tiny, 32), 0, init=True))
    r1 = ev.evaluate(_task(space, space.with_bits(tiny, 4), 1, parent=0, checkpoint=r0.checkpoint))
    from eatnas.train import load_checkpoint

    assert not ev.lineage  # with a checkpoint folder the networks live on disk only
    parent, child = (load_checkpoint(r.checkpoint)["model"] for r in (r0, r1))
    assert r0.checkpoint != r1.checkpoint
    assert all(torch.equal(a, b) for a, b in zip(parent.values(), child.values()))
    assert r1.metrics["float_accuracy"] == r0.metrics["float_accuracy"]  # 0 epochs: the parent's network
    assert r0.metrics["accuracy"] == r0.metrics["float_accuracy"] > 50  # float bits = the float network
    assert r1.metrics["size_mb"] < r0.metrics["size_mb"] / 4
    assert r0.metrics["epochs"] == r1.metrics["epochs"] == 6 and r1.metrics["trained"] == 1

    # a fresh evaluator (a resumed search) finds the parent in its checkpoint; training epochs accumulate
    resumed = JointEvaluator(space, digits_splits, epochs=6, train_cfg=cfg, child_epochs=0.5)  # in memory
    r2 = resumed.evaluate(_task(space, space.with_bits(tiny, 8), 2, parent=1, checkpoint=r1.checkpoint))
    assert r2.metrics["epochs"] == 6.5 and r2.metrics["float_accuracy"] != r1.metrics["float_accuracy"]
    assert list(resumed.lineage) == [2] and r2.checkpoint is None
    with pytest.raises(QuantError, match="parent 5"):
        resumed.evaluate(_task(space, space.with_bits(tiny, 4), 3, parent=5))


def test_fixed_base_mutates_bits_only():
    import random

    base = get_space("block", **BASE)
    tiny = base.preset("tiny")
    space = QuantSpace(base, bits=(2, 4, 8), granularity="block", uniform_moves=True, fixed_base=tiny)
    arch = space.with_bits(tiny, 8)
    assert space.actions(arch) and all(a.position >= len(base.vocab_sizes()) for a in space.actions(arch))
    assert all(space.sample(random.Random(i)).base == tiny for i in range(5))
    with pytest.raises(ValueError):
        QuantSpace(base, bits=(2, 4), granularity="block", fixed_base=tiny[:3])  # wrong number of blocks
