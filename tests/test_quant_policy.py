"""Policies: layer discovery, units, keep_float, validation errors, PTQ/QAT/activation application."""

import pytest
import torch
from torch import nn

from eatnas.errors import EatnasError
from eatnas.quant.apply import ActivationQuantizer, qat_finetune, quantize_model
from eatnas.quant.policy import PolicyRules, policy_from_units, quantizable_layers, uniform_policy, units, validate_policy
from eatnas.quant.quantizers import fake_quant



def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 16, 3))


def test_units_by_name_prefix():
    layers = ["stem.conv", "blocks.0.layers.0.dw.conv", "blocks.0.layers.1.pw.conv", "blocks.3.layers.0.pw.conv",
              "head.conv", "classifier", "layer2.1.conv1", "features.4.conv.0.0"]
    assert units(layers, "block") == ["stem", "blocks.0", "blocks.3", "head", "classifier", "layer2.1", "features.4"]
    assert units(layers, "layer") == layers
    with pytest.raises(EatnasError, match="granularity 'cell'"):
        units(layers, "cell")


def test_policy_from_units_keep_float_and_default():
    layers = ["stem.conv", "blocks.0.a", "blocks.0.b", "blocks.1.a", "classifier"]
    rules = PolicyRules(bits=(4, 8, 32), granularity="block", keep_float=("stem*", "classifier"), default_bits=8)
    pol = policy_from_units(layers, {"blocks.0": 4}, rules)
    assert pol == {"stem.conv": 32, "blocks.0.a": 4, "blocks.0.b": 4, "blocks.1.a": 8, "classifier": 32}


def test_validate_policy_errors():
    m = _net()
    good = uniform_policy(m, 8)
    assert validate_policy(m, good) == good
    with pytest.raises(EatnasError, match="layer 'fc' is not a conv/linear layer"):
        validate_policy(m, {**good, "fc": 8})
    missing = dict(good)
    missing.pop("4")
    with pytest.raises(EatnasError, match="no bit-width for layer '4'"):
        validate_policy(m, missing)
    with pytest.raises(EatnasError, match=r"policy\['0'\]=3 is not in the configured bit set"):
        validate_policy(m, {**good, "0": 3}, allowed=(2, 4, 8, 16, 32))


def test_quantize_model_ptq_replaces_only_quantized_weights():
    m = _net()
    pol = {"0": 2, "4": 32}
    q = quantize_model(m, pol)
    assert torch.equal(q[0].weight, fake_quant(m[0].weight, 2))
    assert torch.equal(q[4].weight, m[4].weight) and torch.equal(q[0].bias, m[0].bias)
    assert not torch.equal(q[0].weight, m[0].weight)  # the original is untouched (a copy was quantized)
    assert len(torch.unique(q[0].weight[0])) <= 4


def test_qat_finetune_learns_and_stays_on_grid():
    torch.manual_seed(0)
    m = _net()
    x = torch.randn(64, 1, 4, 4)
    y = (x.mean((1, 2, 3)) > 0).long()
    pol = {"0": 2, "4": 4}
    loss = nn.CrossEntropyLoss()
    before = loss(quantize_model(m, pol).eval()(x), y).item()
    tuned = qat_finetune(m, pol, lambda: [(x, y)] * 10, epochs=3, lr=0.05)
    after = loss(tuned.eval()(x), y).item()
    assert after < before
    assert torch.equal(quantize_model(tuned, pol)[0].weight, tuned[0].weight)  # already on its grid
    assert len(torch.unique(tuned[0].weight[1])) <= 4


def test_activation_quantizer_hooks():
    m = _net().eval()
    x = torch.randn(8, 1, 4, 4)
    ref = m(x)
    aq = ActivationQuantizer(m, uniform_policy(m, 8), act_bits=2).calibrate([(x, None)])
    assert set(aq.ranges) == {"0", "4"}
    aq.enable()
    coarse = m(x)
    aq.disable()
    assert not torch.allclose(coarse, ref)
    assert torch.equal(m(x), ref)
    aq16 = ActivationQuantizer(m, uniform_policy(m, 8), act_bits=16).calibrate([(x, None)]).enable()
    assert torch.allclose(m(x), ref, atol=1e-3)
    aq16.disable()


def test_quantizable_layers_torchvision():
    from eatnas.quant.nets import build_net
    from eatnas.space.base import BuildSpec

    m, _ = build_net("resnet18", BuildSpec(10, 28, 1))
    layers = quantizable_layers(m)
    assert layers[0] == "conv1" and layers[-1] == "fc" and len(layers) == 21
    assert m.conv1.stride == (1, 1) and m.conv1.in_channels == 1
    assert units(layers, "block")[:3] == ["conv1", "layer1.0", "layer1.1"]
