"""NAS-Bench-201 network builder and analytic cost against the benchmark table and the built module."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from eatnas.errors import EatnasError
from eatnas.models.nb201_net import build_nb201_network, nb201_cost

CSV = Path("/work/shared/benchmarks/nasbench201/cifar10.csv")


def hook_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of every Conv2d and Linear, counted from the actual output shapes via forward hooks."""
    total = 0

    def on_conv(m: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def on_linear(m: nn.Linear, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += m.in_features * m.out_features

    handles = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(on_conv))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(on_linear))
    model.eval()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _table() -> list[tuple[tuple[int, ...], float]]:
    with CSV.open() as f:
        return [(tuple(int(c) for c in row["ops"]), float(row["params_mb"])) for row in csv.DictReader(f)]


@pytest.mark.skipif(not CSV.exists(), reason="NAS-Bench-201 table not available")
def test_analytic_params_match_table_for_every_cell() -> None:
    rows = _table()
    assert len(rows) == 15625
    assert len({ops for ops, _ in rows}) == 15625
    # params_mb is rounded to 6 decimals: allow half a unit of the last digit (plus float slack).
    mismatches = [(ops, mb) for ops, mb in rows if abs(nb201_cost(ops).params / 1e6 - mb) > 5.0001e-7]
    assert mismatches == []


def test_resnet_cell_params_and_extremes() -> None:
    # all-none and all-skip cells own no cell parameters: only stem, 2 reduction blocks, lastact, classifier.
    base = nb201_cost([0] * 6).params
    assert nb201_cost([1] * 6).params == base == nb201_cost([4] * 6).params
    # each 3x3 edge adds N cells x (9 C^2 + 2C) summed over the three stage widths.
    per_3x3 = sum(5 * (9 * c * c + 2 * c) for c in (16, 32, 64))
    assert nb201_cost([3, 0, 0, 0, 0, 0]).params == base + per_3x3
    assert nb201_cost([3, 0, 3, 1, 0, 1]).params == base + 2 * per_3x3


def test_built_params_and_macs_equal_analytic_on_sample() -> None:
    rng = random.Random(0)
    cells = [tuple(rng.randrange(5) for _ in range(6)) for _ in range(30)]
    x = torch.randn(1, 3, 32, 32)
    for ops in cells:
        model = build_nb201_network(ops)
        cost = nb201_cost(ops)
        assert n_params(model) == cost.params, ops
    for ops in cells[:6]:
        model = build_nb201_network(ops)
        assert hook_macs(model, x) == nb201_cost(ops).macs, ops


@pytest.mark.parametrize("size,classes,in_ch", [(32, 10, 3), (28, 10, 1), (8, 5, 3), (15, 100, 3)])
def test_forward_shapes_and_options(size: int, classes: int, in_ch: int) -> None:
    ops = (3, 2, 4, 1, 0, 3)
    model = build_nb201_network(ops, num_classes=classes, C=8, N=1, in_channels=in_ch)
    x = torch.randn(2, in_ch, size, size)
    out = model(x)
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()
    cost = nb201_cost(ops, num_classes=classes, C=8, N=1, input_size=size, in_channels=in_ch)
    assert n_params(model) == cost.params
    assert hook_macs(model, x[:1]) == cost.macs


def test_none_edges_zero_out_the_cell_output() -> None:
    # node 3 receives only none-edges: the cell outputs zeros, so the stage output is constant.
    model = build_nb201_network([3, 3, 3, 0, 0, 0], C=4, N=1)
    cell = model.cells[0]
    assert torch.count_nonzero(cell(torch.randn(1, 4, 8, 8))) == 0


def test_module_names_and_gradients() -> None:
    model = build_nb201_network([3, 3, 3, 3, 3, 3], C=4, N=1)
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert names == {"stem", "cells", "lastact", "classifier"}
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    "ops,needle",
    [([3, 3, 3], "6 edge ops"), ([3, 3, 3, 3, 3, 5], "edge 5 (2->3)"), ([3, -1, 3, 3, 3, 3], "edge 1 (0->2)"),
     ([3, "conv_3x3", 3, 3, 3, 3], "edge 1 (0->2)"), ([3, 3, 3, True, 3, 3], "edge 3 (0->3)")],
)
def test_bad_ops_raise(ops: list[int], needle: str) -> None:
    with pytest.raises(EatnasError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        nb201_cost(ops)
    with pytest.raises(EatnasError):
        build_nb201_network(ops)


def test_official_op_names_accepted() -> None:
    names = ["nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "skip_connect"]
    assert nb201_cost(names) == nb201_cost([3, 0, 3, 1, 0, 1])
    assert n_params(build_nb201_network(names, C=4, N=1)) == nb201_cost([3, 0, 3, 1, 0, 1], C=4, N=1).params


def test_bad_sizes_raise() -> None:
    with pytest.raises(EatnasError, match="C must be"):
        build_nb201_network([1] * 6, C=0)
    with pytest.raises(EatnasError, match="input_size"):
        nb201_cost([1] * 6, input_size=0)
