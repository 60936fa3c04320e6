"""Strided 1x1 convolutions on the subsampled input: same maths as nn.Conv2d, no CPU channels_last crash."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from eatnas.models.pointwise import (StridedPointwiseConv2d, heap_checking_env, is_strided_pointwise,
                                     replace_strided_pointwise)
from eatnas.quant.nets import build_net
from eatnas.space.base import BuildSpec, get_space


@pytest.mark.parametrize("stride,size,c_in,c_out", [(2, 8, 3, 8), (2, 7, 8, 4), (3, 10, 4, 6)])
def test_same_outputs_and_gradients_as_a_strided_conv(stride, size, c_in, c_out):
    torch.manual_seed(0)
    ref = nn.Conv2d(c_in, c_out, 1, stride, bias=True)
    ours = StridedPointwiseConv2d(c_in, c_out, stride, bias=True)
    ours.load_state_dict(ref.state_dict())
    assert ours.stride == ref.stride and set(ours.state_dict()) == set(ref.state_dict())
    x = torch.randn(5, c_in, size, size)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ref(xa), ours(xb)
    assert ya.shape == yb.shape and torch.allclose(ya, yb, atol=1e-6)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    assert torch.allclose(xa.grad, xb.grad, atol=1e-6)
    assert torch.allclose(ref.weight.grad, ours.weight.grad, atol=1e-5)
    assert torch.allclose(ref.bias.grad, ours.bias.grad, atol=1e-5)


def test_channels_last_training_of_the_configuration_that_crashed():
    """3 input channels, stride 2, channels_last, batch 64: torch 2.14.1's oneDNN weight gradient
    corrupted the heap on AVX2-only CPUs (abort). Run in a child process so that a crash fails
    this test instead of ending the session."""
    code = textwrap.dedent("""
        import torch
        from eatnas.models.pointwise import StridedPointwiseConv2d
        torch.set_num_threads(1)
        conv = StridedPointwiseConv2d(3, 8, 2).to(memory_format=torch.channels_last)
        x = torch.randn(64, 3, 8, 8).contiguous(memory_format=torch.channels_last)
        for _ in range(10):
            conv(x.requires_grad_()).sum().backward()
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=heap_checking_env())
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def _plain_strided_pointwise(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if is_strided_pointwise(m)]


def test_our_networks_have_no_plain_strided_pointwise_conv():
    spec = BuildSpec(10, 32, 3)
    block = get_space("block", width_multiplier=0.25, head_channels=32)
    rng = random.Random(0)
    nets = [block.build(block.sample(rng), spec) for _ in range(6)] + [block.build(block.preset("mobilenetv2"), spec)]
    cell = get_space("cell", filters=4, cells_per_stage=1)
    nets += [cell.build(cell.sample(rng), spec) for _ in range(3)]
    found = [m for net in nets for m in net.modules() if isinstance(m, StridedPointwiseConv2d)]
    assert found  # projection shortcuts and FactorizedReduce exist in these networks ...
    assert all(_plain_strided_pointwise(net) == [] for net in nets)  # ... and none is a plain nn.Conv2d
    resnet, _ = build_net("resnet18", spec)
    assert _plain_strided_pointwise(resnet) == []
    assert isinstance(resnet.layer2[0].downsample[0], StridedPointwiseConv2d)


def test_replace_keeps_parameters_and_outputs():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    ref = resnet18(num_classes=10).eval()
    plain = _plain_strided_pointwise(ref)
    assert len(plain) == 3  # layer2-4 downsampling
    ours = replace_strided_pointwise(resnet18(num_classes=10)).eval()
    ours.load_state_dict(ref.state_dict())  # same keys and shapes
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ref(x), ours(x), atol=1e-5)


def test_onnx_export_of_subsampled_convs_matches_onnxruntime(tmp_path):
    pytest.importorskip("onnxruntime")
    from eatnas.quant.export import export_onnx

    torch.manual_seed(0)
    block = get_space("block", width_multiplier=0.25, head_channels=32)
    rng = random.Random(1)
    net = next(n for n in (block.build(block.sample(rng), BuildSpec(10, 16, 1)) for _ in range(20))
               if any(isinstance(m, StridedPointwiseConv2d) for m in n.modules()))
    res = export_onnx(tmp_path / "m.onnx", net.eval(), (2, 1, 16, 16))  # raises when onnxruntime disagrees
    assert res["max_abs_diff"] is not None and res["max_abs_diff"] < 1e-3
