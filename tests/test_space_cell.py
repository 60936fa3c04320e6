"""RENAS cell space: grammar, token view, cell semantics, templates, analytic cost vs built module."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from eatnas.errors import ArchStringError, EatnasError
from eatnas.models.cell_net import CellTemplate, build_cell_network, cell_network_cost, output_nodes
from eatnas.space.base import BuildSpec, get_space
from eatnas.space.cell import CellArch, CellSpace

RENAS_GENOTYPE = ((1, 0), (0, 1), (7, 1), (0, 1), (0, 0), (3, 0), (1, 1), (0, 0), (7, 2), (0, 2))
RENAS_TEXT = "sep5~0,sep3~1|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2"
IMAGENET = BuildSpec(num_classes=1000, input_size=224, in_channels=3)



def tiny(**opts) -> CellSpace:
    return get_space("cell", filters=4, cells_per_stage=1, **opts)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def hook_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of every Conv2d and Linear from the real output shapes (forward hooks)."""
    total = 0

    def on_conv(m: nn.Conv2d, _i: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def on_linear(m: nn.Linear, _i: tuple, _out: torch.Tensor) -> None:
        nonlocal total
        total += m.in_features * m.out_features

    handles = [m.register_forward_hook(on_conv) for m in model.modules() if isinstance(m, nn.Conv2d)]
    handles += [m.register_forward_hook(on_linear) for m in model.modules() if isinstance(m, nn.Linear)]
    model.eval()
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


# --- the renasnet preset at the ImageNet mobile setting --------------------------------------------
def test_renasnet_imagenet_mobile_params_and_madds() -> None:
    space = get_space("cell")
    arch = space.preset("renasnet")
    assert arch == CellArch(RENAS_GENOTYPE)
    assert space.network_template(IMAGENET) == CellTemplate("imagenet", 44, 4, 32, 0.0)
    cost = space.cost(arch, IMAGENET)
    # Convention: every trainable tensor (conv weights, BN gamma+beta, FC weight+bias), no auxiliary head.
    # That reproduces the rebuild of the released graph (5.68M, ~608M MAdds) and is within 8% of the reported 5.36M.
    assert abs(cost.params - 5.36e6) / 5.36e6 < 0.08
    assert round(cost.params / 1e6, 2) == 5.68
    assert abs(cost.macs - 608e6) / 608e6 < 0.005
    model = space.build(arch, IMAGENET)
    assert n_params(model) == cost.params
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    conv = sum(m.weight.numel() for m in convs)
    bn = sum(n_params(m) for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    depthwise = sum(m.weight.numel() for m in convs if m.groups > 1)
    assert round(conv / 1e6, 2) == 4.75 and round(bn / 1e6, 2) == 0.05
    assert n_params(model.classifier) == 880 * 1000 + 1000  # 5 x 176 channels into FC-1000
    # the reported 5.36M is close to the count without depthwise kernels (the likely paper convention)
    assert abs(cost.params - depthwise - 5.36e6) / 5.36e6 < 0.01
    assert hook_macs(model, torch.randn(1, 3, 224, 224)) == cost.macs


def test_imagenet_stem_is_unpadded_stride_2_and_stem_cells_reduce() -> None:
    space = get_space("cell", template="imagenet", filters=8, cells_per_stage=1)
    model = space.build(space.preset("renasnet"), BuildSpec(10, 64, 3))
    sizes = []
    model.stem.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
    for cell in model.cells:
        cell.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:])))
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))
    # stem 64 -> 31 (3x3, stride 2, no padding); stem cells F/4=2, F/2=4 (4 outputs each, no h0);
    # normal cells 5F; reductions 4 x 2F, 4 x 4F.
    assert sizes == [(32, 31, 31), (8, 16, 16), (16, 8, 8), (40, 8, 8), (64, 4, 4), (80, 4, 4), (128, 2, 2),
                     (160, 2, 2)]


# --- templates --------------------------------------------------------------------------------------
def test_template_chosen_by_input_size_and_overridable() -> None:
    space = get_space("cell")
    assert space.network_template(BuildSpec(10, 32, 3)).kind == "cifar"
    assert space.network_template(BuildSpec(10, 127, 3)).kind == "cifar"
    assert space.network_template(BuildSpec(10, 128, 3)).kind == "imagenet"
    assert get_space("cell", imagenet_min_input=300).network_template(IMAGENET).kind == "cifar"
    forced = get_space("cell", template="imagenet", filters=8, cells_per_stage=1)
    assert forced.network_template(BuildSpec(10, 32, 3)) == CellTemplate("imagenet", 8, 1, 32, 0.0)
    cifar = get_space("cell", template="cifar", filters=8, stem_multiplier=2).network_template(IMAGENET)
    assert cifar == CellTemplate("cifar", 8, 1, 16, 0.0)


def test_cifar_template_layout_channels_and_sizes() -> None:
    space = tiny()
    model = space.build(space.preset("renasnet"), BuildSpec(10, 32, 3))
    assert model.stem[0].stride == (1, 1) and model.stem[0].out_channels == 12  # stem_multiplier 3 x F
    assert [c.blocks[0].left.__class__.__name__ for c in model.cells] == ["SepConvStack"] * 5
    reductions = [any(isinstance(m, nn.MaxPool2d) for m in c.modules()) for c in model.cells]
    assert reductions == [False, True, False, True, False]  # id on h1 becomes max-pool stride 2 only there
    assert model.classifier.in_features == 5 * 16
    # first cell: no c_{k-2}, h0 squeezes the stem; after a reduction, h0 is a FactorizedReduce
    assert [type(c.pre0).__name__ for c in model.cells] == [
        "ReLUConvBN", "ReLUConvBN", "FactorizedReduce", "ReLUConvBN", "FactorizedReduce"]
    assert tiny(stem_multiplier=1).build(space.preset("renasnet"), BuildSpec()).cells[0].pre0.__class__ is nn.Identity


def test_module_names_for_weight_inheritance() -> None:
    space = tiny()
    model = space.build(space.preset("renasnet"), BuildSpec(10, 8, 1))
    tops = {name.split(".")[0] for name, _ in model.named_parameters()}
    assert tops == {"stem", "cells", "classifier"}
    assert "cells.0.blocks.0.left.dw1.weight" in model.state_dict()
    assert "cells.0.pre1.conv.weight" in model.state_dict()


def test_inheritance_reinitialises_a_replaced_operation_and_adapts_a_new_kernel() -> None:
    """Op keys name their role: sep3 -> conv3 starts fresh, sep5 -> sep3 centre-crops the parent kernels."""
    from eatnas.train import inherit_weights

    space, spec = tiny(), BuildSpec(10, 8, 1)
    torch.manual_seed(0)
    parent = space.build(space.decode(RENAS_TEXT), spec)  # block 1: left sep5, right sep3
    state = parent.state_dict()
    dense = space.decode(RENAS_TEXT.replace("sep5~0,sep3~1|", "sep5~0,conv3~1|", 1))
    child = space.build(dense, spec)
    fresh = child.state_dict()["cells.0.blocks.0.right.conv.weight"].clone()
    report = inherit_weights(child, state)
    right = [k for k in report.initialised if k.startswith("cells.0.blocks.0.right.")]
    assert "cells.0.blocks.0.right.conv.weight" in right and "cells.0.blocks.0.right.bn.weight" in right
    assert torch.equal(child.cells[0].blocks[0].right.conv.weight, fresh)
    assert not any(k.startswith("cells.0.blocks.0.right.") for k in report.adapted)
    smaller = space.build(space.decode(RENAS_TEXT.replace("sep5~0", "sep3~0", 1)), spec)
    report = inherit_weights(smaller, state)
    assert "cells.0.blocks.0.left.dw1.weight" in report.adapted
    assert torch.equal(smaller.cells[0].blocks[0].left.dw1.weight,
                       parent.cells[0].blocks[0].left.dw1.weight[:, :, 1:4, 1:4])
    assert not any(k.startswith("cells.0.blocks.0.") for k in report.initialised)


# --- cell semantics ---------------------------------------------------------------------------------
def test_cell_output_concat_rule() -> None:
    assert output_nodes(RENAS_GENOTYPE) == (3, 4, 5, 6)  # b1 (node 2) is read by b5
    chain = tuple((0, 1) if k == 0 else (0, k // 2 + 1) for k in range(10))  # every block reads the previous
    assert output_nodes(chain) == (6,)
    space = tiny(shared=False)
    arch = CellArch(chain, RENAS_GENOTYPE)
    model = space.build(arch, BuildSpec(10, 16, 3))
    shapes = []
    for cell in model.cells:
        cell.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, 3, 16, 16))
    # normal cells: 1 unused block + h0 = 2F; reduction cells: 4 unused blocks, no h0 = 4 x width
    assert shapes == [(8, 16, 16), (32, 8, 8), (16, 8, 8), (64, 4, 4), (32, 4, 4)]


def test_blocks_add_their_two_ops() -> None:
    # block 1 = id(h1) + id(h1), the others avg-pool h0; no block reads another, so all 5 are concatenated
    geno = ((7, 1), (7, 1)) + ((3, 0), (3, 0)) * 4
    model = build_cell_network(geno, geno, CellTemplate("cifar", 4, 1, 4, 0.0), 10, 8, 3)
    cell = model.cells[0]
    cur = torch.randn(1, 4, 8, 8)
    cell.eval()
    with torch.no_grad():
        out = cell(None, cur)
        h1 = cell.pre1(cur)
    nodes = output_nodes(geno)
    assert nodes == (2, 3, 4, 5, 6)
    assert torch.allclose(out[:, :4], 2 * h1)
    assert out.shape[1] == 4 * (len(nodes) + 1)
    assert torch.allclose(out[:, -4:], cur)  # identity h0 (stem width == F), appended last


# --- grammar ----------------------------------------------------------------------------------------
def test_preset_string_round_trip_and_shared_forms() -> None:
    shared, split = tiny(), tiny(shared=False)
    arch = shared.decode(RENAS_TEXT)
    assert shared.encode(arch) == RENAS_TEXT and shared.decode(shared.encode(arch)) == arch
    both = f"n:{RENAS_TEXT};r:{RENAS_TEXT}"
    assert shared.decode(both) == arch
    arch2 = split.decode(RENAS_TEXT)  # bare form = same genotype for both cell types
    assert arch2 == CellArch(RENAS_GENOTYPE, RENAS_GENOTYPE)
    assert split.encode(arch2) == both
    other = "sep3~0,sep3~1|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2"
    mixed = split.decode(f"n:{RENAS_TEXT};r:{other}")
    assert mixed.reduction_cell != mixed.normal and split.encode(mixed) == f"n:{RENAS_TEXT};r:{other}"


@pytest.mark.parametrize(
    "text,position,needle",
    [
        ("sep5~0,sep3~1|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0", 0, "5 '|'-separated blocks"),
        ("sep5~0,sep3~1|id~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2", 14, "block 2 needs 2"),
        ("sep5~0,sep3~1|id~1,sep9~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2", 19, "unknown op 'sep9'"),
        ("sep5~0,sep3~2|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2", 12, "input 2 not available"),
        ("sep5~0,sep3~1|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~7", 64, "input 7 not available"),
        ("sep5~0,sep3~1|id1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2", 14, "expected op~input"),
        ("sep5~0,sep3~x|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2", 12, "not a non-negative integer"),
        ("sep5~0,sep3~01|id~1,sep3~1|sep3~0,avg3~0|sep5~1,sep3~0|id~2,sep3~2", 12, "not a non-negative integer"),
        (f"n:{RENAS_TEXT}", 2 + len(RENAS_TEXT), "expected ';r:'"),
    ],
)
def test_malformed_strings_report_position(text: str, position: int, needle: str) -> None:
    with pytest.raises(ArchStringError, match=needle) as info:
        tiny().decode(text)
    assert info.value.position == position


def test_shared_space_rejects_different_cells() -> None:
    other = RENAS_TEXT.replace("sep5~0", "sep7~0", 1)
    with pytest.raises(ArchStringError, match="shares one genotype") as info:
        tiny().decode(f"n:{RENAS_TEXT};r:{other}")
    assert info.value.position == 2 + len(RENAS_TEXT)
    with pytest.raises(ArchStringError, match="unknown op 'xep5'") as info:
        tiny(shared=False).decode(f"n:{RENAS_TEXT};r:x{RENAS_TEXT[1:]}")
    assert info.value.position == 2 + len(RENAS_TEXT) + 3


def test_canonical_key_sorts_commutative_pairs() -> None:
    space = tiny()
    arch = space.preset("renasnet")
    swapped = CellArch(tuple(p for b in range(5) for p in reversed(RENAS_GENOTYPE[2 * b : 2 * b + 2])))
    assert space.encode(swapped) != space.encode(arch)
    assert space.canonical_key(swapped) == space.canonical_key(arch)
    assert space.cost(swapped, BuildSpec()) == space.cost(arch, BuildSpec())
    changed = space.apply(arch, space.actions(arch)[0])
    assert space.canonical_key(changed) != space.canonical_key(arch)
    keys = {space.canonical_key(space.sample(random.Random(i))) for i in range(200)}
    assert len(keys) == 200


# --- token view -------------------------------------------------------------------------------------
def test_token_view_sizes_names_and_validity() -> None:
    shared, split = tiny(), tiny(shared=False)
    assert len(shared.vocab_sizes()) == 20 and len(split.vocab_sizes()) == 40
    assert shared.vocab_sizes() == (8, 2, 8, 2, 8, 3, 8, 3, 8, 4, 8, 4, 8, 5, 8, 5, 8, 6, 8, 6)
    assert shared.position_names()[:4] == ("b1.l.op", "b1.l.in", "b1.r.op", "b1.r.in")
    assert split.position_names()[20] == "r.b1.l.op"
    arch = shared.preset("renasnet")
    assert shared.tokens(arch) == tuple(v for p in RENAS_GENOTYPE for v in p)
    bad = list(shared.tokens(arch))
    bad[3] = 2  # block 1 may only read h0 / h1
    with pytest.raises(ValueError, match="block 1"):
        shared.from_tokens(bad)
    bad[3] = 1
    bad[0] = 8
    with pytest.raises(ValueError, match="op 8"):
        shared.from_tokens(bad)
    with pytest.raises(ValueError, match="20 tokens"):
        shared.from_tokens(bad[:19])
    # every single-token change is valid, so actions = sum(vocab - 1)
    assert len(shared.actions(arch)) == sum(n - 1 for n in shared.vocab_sizes())
    with pytest.raises(ValueError):
        split.validate(arch)  # a shared arch is not valid in the split space


def test_sampling_reproducible_and_split_cells_independent() -> None:
    split = tiny(shared=False)
    a = [split.sample(random.Random(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    samples = [split.sample(random.Random(i)) for i in range(20)]
    assert any(s.normal != s.reduction for s in samples)


# --- cost ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shared", [True, False])
def test_analytic_cost_equals_built_module(shared: bool) -> None:
    space = tiny(shared=shared)
    rng = random.Random(11 if shared else 12)
    archs = [space.sample(rng) for _ in range(10)]
    for i, arch in enumerate(archs):
        for size in CellSpace.test_resolutions:
            spec = BuildSpec(num_classes=7, input_size=size, in_channels=1 if size == 28 else 3)
            model = space.build(arch, spec)
            cost = space.cost(arch, spec)
            assert n_params(model) == cost.params, (space.encode(arch), size)
            if i < 3:
                assert hook_macs(model, torch.randn(1, spec.in_channels, size, size)) == cost.macs


def test_odd_sizes_and_imagenet_template_at_small_input_forward() -> None:
    space = tiny(shared=False)
    arch = space.sample(random.Random(3))
    for template, size in (("cifar", 15), ("imagenet", 9), ("imagenet", 32)):
        sp = tiny(shared=False, template=template)
        spec = BuildSpec(5, size, 3)
        model = sp.build(arch, spec)
        out = model.eval()(torch.randn(2, 3, size, size))
        assert out.shape == (2, 5) and torch.isfinite(out).all()
        assert hook_macs(model, torch.randn(1, 3, size, size)) == sp.cost(arch, spec).macs


def test_training_step_reduces_loss_and_build_is_seeded() -> None:
    space = tiny()
    arch = space.preset("renasnet")
    torch.manual_seed(0)
    a = space.build(arch, BuildSpec(10, 8, 1))
    torch.manual_seed(0)
    b = space.build(arch, BuildSpec(10, 8, 1))
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 10, (16,))
    opt = torch.optim.SGD(a.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(a(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.7


# --- options ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "opts,needle",
    [
        ({"template": "mobile"}, "template"),
        ({"filters": 0}, "filters"),
        ({"cells_per_stage": -1}, "cells_per_stage"),
        ({"shared": "yes"}, "shared"),
        ({"dropout": 1.5}, "dropout"),
        ({"filters": 2}, "filters >= 4"),  # the imagenet template (auto at >= 128 px) needs F/4 >= 1
        ({"kernel": 3}, "unknown option"),
    ],
)
def test_bad_options_raise(opts: dict, needle: str) -> None:
    with pytest.raises(EatnasError, match=needle):
        get_space("cell", **opts)


def test_block_space_config_options_are_ignored_and_build_errors_named() -> None:
    space = get_space("cell", width_multiplier=1.0, skip_mode="projection", ops=["sep"], sepconv_skip=True,
                      stem_stride=None, head_channels=1280, filters=4, cells_per_stage=1)
    assert space.describe()["filters"] == 4
    with pytest.raises(EatnasError, match="input_size"):
        space.cost(space.preset("renasnet"), BuildSpec(10, 0, 3))
    with pytest.raises(EatnasError, match="num_classes"):
        cell_network_cost(RENAS_GENOTYPE, RENAS_GENOTYPE, num_classes=0)
    with pytest.raises(EatnasError, match="input_size >= 3"):
        get_space("cell", template="imagenet").cost(space.preset("renasnet"), BuildSpec(10, 2, 3))
