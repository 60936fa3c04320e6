"""Strided 1x1 convolutions computed as stride-1 1x1 convolutions of the subsampled input.

A 1x1 convolution with stride ``s`` and no padding reads only the pixels ``x[..., ::s, ::s]``, so it
equals a stride-1 1x1 convolution of that subsample: same parameters, outputs and gradients.
:class:`StridedPointwiseConv2d` computes it that way because torch's CPU (oneDNN) weight gradient of
a strided 1x1 convolution in ``channels_last`` corrupts the heap on AVX2-only x86 CPUs (seen with
torch 2.14.1 on an AMD EPYC: ``double free or corruption``, then an abort, for 2-6 input channels;
``python bench/strided_pointwise.py`` checks a machine). Our training runs in ``channels_last`` by
default, so every strided 1x1 convolution of our networks (projection shortcuts, FactorizedReduce,
torchvision ResNet downsampling) uses this class.
"""

from __future__ import annotations

import ctypes.util
import os

import torch
from torch import nn
from torch.nn import functional as F


class StridedPointwiseConv2d(nn.Conv2d):
    """``nn.Conv2d(c_in, c_out, 1, stride)`` (no padding) that convolves ``x[..., ::s, ::s]`` at stride 1.

    A drop-in subclass: the same ``weight`` (and ``bias``) and attributes (``stride`` is still the
    layer's stride), so state dicts, bit policies, MAC counts and ONNX export see an ordinary conv.
    """

    def __init__(self, c_in: int, c_out: int, stride: int | tuple[int, int], groups: int = 1,
                 bias: bool = False) -> None:
        super().__init__(c_in, c_out, 1, stride, 0, groups=groups, bias=bias)

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        sh, sw = self.stride
        return F.conv2d(input[..., ::sh, ::sw], weight, bias, 1, 0, self.dilation, self.groups)


def is_strided_pointwise(module: nn.Module) -> bool:
    """A plain ``nn.Conv2d`` with a 1x1 kernel, stride > 1 and no padding (what the class above replaces)."""
    return (type(module) is nn.Conv2d and module.kernel_size == (1, 1) and module.stride != (1, 1)
            and module.padding == (0, 0) and module.dilation == (1, 1) and module.padding_mode == "zeros")


def replace_strided_pointwise(model: nn.Module) -> nn.Module:
    """Swap every plain strided 1x1 ``nn.Conv2d`` of ``model`` (in place) for a
    :class:`StridedPointwiseConv2d` holding the same parameters; returns ``model``."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if is_strided_pointwise(child):
                new = StridedPointwiseConv2d(child.in_channels, child.out_channels, child.stride, child.groups,
                                             child.bias is not None).to(child.weight.device, child.weight.dtype)
                new.load_state_dict(child.state_dict())
                setattr(parent, name, new)
    return model


def heap_checking_env() -> dict[str, str]:
    """This process's environment plus glibc's heap consistency checks (``MALLOC_CHECK_=3``, which glibc
    >= 2.34 applies only with ``libc_malloc_debug`` preloaded): for a child process that should abort at
    the first heap corruption instead of corrupting memory silently."""
    env = {**os.environ, "MALLOC_CHECK_": "3"}
    debug = ctypes.util.find_library("c_malloc_debug")
    if debug:
        env["LD_PRELOAD"] = " ".join(filter(None, (env.get("LD_PRELOAD"), debug)))
    return env
