"""Weight inheritance: shape adaptation rules, depth mapping, BN statistics, and accuracy after inheritance."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from eatnas.train import evaluate, inherit_weights
from eatnas.train.inherit import adapt, source_key
from eatnas.train.refnet import RefNet

PARENT = dict(widths=(16, 24), depths=(2, 2), kernels=(3, 3))
CHILDREN = {
    "wider": dict(widths=(24, 32), depths=(2, 2), kernels=(3, 3)),
    "deeper": dict(widths=(16, 24), depths=(3, 3), kernels=(3, 3)),
    "larger kernels": dict(widths=(16, 24), depths=(2, 2), kernels=(5, 7)),
}


def _net(seed: int, **kw) -> RefNet:
    torch.manual_seed(seed)
    return RefNet(1, 10, **kw)


@pytest.mark.parametrize("kind", sorted(CHILDREN))
def test_child_starts_well_above_chance_but_scratch_does_not(digits_parent, digits_splits, kind):
    parent, _ = digits_parent
    child = _net(1, **CHILDREN[kind])
    scratch_acc, _ = evaluate(_net(1, **CHILDREN[kind]), digits_splits.test, "cpu")
    report = inherit_weights(child, parent.state_dict())
    acc, _ = evaluate(child, digits_splits.test, "cpu")
    if kind == "deeper":
        # repeated layers change the function: 43-75 % over 6 parent training seeds (chance: 10 %)
        assert acc > 30.0, f"{kind}: {acc:.1f}% after inheritance ({report})"
    else:  # zero-padded channels and kernels preserve the parent's function
        parent_acc, _ = evaluate(parent, digits_splits.test, "cpu")
        assert acc == pytest.approx(parent_acc, abs=0.5), f"{kind}: {acc:.1f}% vs parent {parent_acc:.1f}% ({report})"
    assert scratch_acc < 25.0
    assert report.adapted and not report.initialised


def test_larger_kernels_and_wider_layers_preserve_the_function(digits_parent):
    parent, _ = digits_parent
    parent.eval()
    x = torch.randn(8, 1, 8, 8)
    for kind in ("wider", "larger kernels"):
        child = _net(2, **CHILDREN[kind]).eval()
        inherit_weights(child, parent.state_dict())
        assert torch.allclose(child(x), parent(x), atol=1e-4), kind


def test_same_architecture_copies_everything(digits_parent):
    parent, _ = digits_parent
    child = _net(3, **PARENT)
    report = inherit_weights(child, parent.state_dict())
    assert report.counts() == {"inherited": len(parent.state_dict()), "adapted": 0, "initialised": 0}
    for key, value in parent.state_dict().items():
        assert torch.equal(child.state_dict()[key], value), key


def test_deeper_repeats_the_last_layer_and_shallower_drops_layers():
    parent = _net(0, **PARENT)
    state = parent.state_dict()
    deeper = _net(1, widths=(16, 24), depths=(4, 1), kernels=(3, 3))
    report = inherit_weights(deeper, state)
    for layer in (2, 3):  # stage 0 had layers 0..1: layers 2, 3 repeat layer 1
        key = f"blocks.0.layers.{layer}.depthwise.0.weight"
        assert torch.equal(deeper.state_dict()[key], state["blocks.0.layers.1.depthwise.0.weight"])
        assert key in report.adapted
    assert "blocks.1.layers.1.expand.0.weight" not in deeper.state_dict()
    assert torch.equal(deeper.state_dict()["blocks.1.layers.0.project.0.weight"],
                       state["blocks.1.layers.0.project.0.weight"])


def test_source_key_mapping():
    keys = {"blocks.0.layers.0.a": 0, "blocks.0.layers.1.a": 0, "stem.w": 0, "m.blocks.2.layers.0.b": 0}
    depths = {"blocks.0.layers.": 2, "m.blocks.2.layers.": 1}
    assert source_key("blocks.0.layers.5.a", keys, depths) == ("blocks.0.layers.1.a", True)
    assert source_key("blocks.0.layers.1.a", keys, depths) == ("blocks.0.layers.1.a", False)
    assert source_key("m.blocks.2.layers.3.b", keys, depths) == ("m.blocks.2.layers.0.b", True)
    assert source_key("blocks.1.layers.0.a", keys, depths) == (None, False)
    assert source_key("head.w", keys, depths) == (None, False)


def test_adapt_wider_narrower_and_kernels():
    parent = torch.arange(2 * 3 * 3 * 3, dtype=torch.float32).view(2, 3, 3, 3) + 1
    fresh = torch.full((4, 5, 5, 5), -7.0)
    wide = adapt(fresh, parent, spatial_from=2)
    assert torch.equal(wide[:2, :3, 1:4, 1:4], parent)               # kernel in the centre
    assert (wide[:2, :3, 0] == 0).all() and (wide[:2, :3, :, 4] == 0).all()  # zero ring around it
    assert (wide[:2, 3:] == 0).all()                                  # new inputs of inherited filters
    assert (wide[2:] == -7).all()                                     # new filters keep their init
    keep_init = adapt(fresh, parent, spatial_from=2, zero_new_inputs=False)
    assert (keep_init[:2, 3:] == -7).all()
    small = adapt(torch.zeros(1, 2, 1, 1), parent, spatial_from=2)
    assert torch.equal(small, parent[:1, :2, 1:2, 1:2])               # leading channels, centre crop
    dense_from_depthwise = adapt(torch.full((2, 3, 3, 3), -7.0), parent[:, :1], spatial_from=2)
    assert (dense_from_depthwise[:, 1:] == -7).all()                  # in-dim 1 is not a widening
    vec = adapt(torch.zeros(5), torch.tensor([1.0, 2.0, 3.0]), None)
    assert vec.tolist() == [1.0, 2.0, 3.0, 0.0, 0.0]


def test_depthwise_and_batchnorm_statistics():
    parent = nn.Sequential(nn.Conv2d(4, 4, 3, groups=4, bias=False), nn.BatchNorm2d(4))
    parent[1].running_mean.copy_(torch.arange(4.0))
    parent[1].running_var.copy_(torch.arange(4.0) + 2)
    parent[1].num_batches_tracked.fill_(17)
    child = nn.Sequential(nn.Conv2d(6, 6, 5, groups=6, bias=False), nn.BatchNorm2d(6))
    report = inherit_weights(child, parent.state_dict())
    assert torch.equal(child[0].weight[:4, :, 1:4, 1:4], parent[0].weight)
    assert child[1].running_mean.tolist() == [0, 1, 2, 3, 0, 0]
    assert child[1].running_var.tolist() == [2, 3, 4, 5, 1, 1]
    assert int(child[1].num_batches_tracked) == 17 and "1.num_batches_tracked" in report.inherited


def test_exclude_and_mismatched_rank_stay_initialised():
    parent = _net(0, **PARENT)
    child = _net(1, **PARENT)
    before = child.classifier.weight.detach().clone()
    report = inherit_weights(child, parent.state_dict(), exclude=("classifier.",))
    assert torch.equal(child.classifier.weight, before)
    assert set(report.initialised) == {"classifier.weight", "classifier.bias"}
    odd = nn.Linear(3, 2)
    report = inherit_weights(odd, {"weight": torch.zeros(2, 3, 1), "bias": torch.ones(2)})
    assert report.initialised == ["weight"] and report.inherited == ["bias"]
    assert str(report) == "1 inherited, 0 adapted, 1 initialised"


def test_fine_tuning_an_inherited_child_beats_training_from_scratch(digits_parent, digits_splits):
    from eatnas.train import TrainConfig, train_model

    parent, _ = digits_parent
    cfg = TrainConfig(batch_size=64, lr=0.02)
    child = _net(4, **CHILDREN["deeper"])
    inherit_weights(child, parent.state_dict())
    tuned = train_model(child, digits_splits, epochs=1, cfg=cfg, seed=1)
    scratch = train_model(_net(4, **CHILDREN["deeper"]), digits_splits, epochs=1, cfg=cfg, seed=1)
    assert tuned.accuracy > 90.0 and tuned.accuracy > scratch.accuracy + 20
