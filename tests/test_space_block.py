"""Block space: grammar, presets (MobileNetV2 exact), stride rule, skip modes, naming, analytic cost."""

from __future__ import annotations

import json
import random

import pytest
import torch
from torch import nn

from eatnas.cli import main as cli_main
from eatnas.config import load_config
from eatnas.errors import ArchStringError, ConfigError
from eatnas.models.block_net import OPS, BlockNet, resolve_strides
from eatnas.models.layers import ConvBNAct, count_params, measure_macs
from eatnas.space.base import Action, BuildSpec, SearchSpace, get_space
from eatnas.space.block import BlockGene, BlockSpace

MBV2 = BuildSpec(num_classes=1000, input_size=224, in_channels=3)
TORCHVISION_MBV2_PARAMS = 3_504_872



@pytest.fixture
def no_default_init(monkeypatch):
    """Skip PyTorch's default parameter init (shape-only builds for counting)."""
    for cls in (nn.Conv2d, nn.Linear, nn.BatchNorm2d):
        monkeypatch.setattr(cls, "reset_parameters", lambda self: None)


def space(**kw) -> BlockSpace:
    return get_space("block", **kw)


def mbv2_space() -> BlockSpace:
    return space(**BlockSpace.preset_options["mobilenetv2"])


# --- presets: MobileNetV2 exactly ----------------------------------------------------------
def test_mobilenetv2_preset_matches_torchvision_params_and_shapes(no_default_init):
    torchvision = pytest.importorskip("torchvision")
    s = mbv2_space()
    arch = s.preset("mobilenetv2")
    model = s.build(arch, MBV2)
    tv = torchvision.models.mobilenet_v2()
    assert s.cost(arch, MBV2).params == count_params(model) == count_params(tv) == TORCHVISION_MBV2_PARAMS
    ours = [v.shape for v in model.state_dict().values()]
    theirs = [v.shape for v in tv.state_dict().values()]
    assert ours == theirs  # same tensors in the same order


def test_mobilenetv2_preset_macs_match_ptflops_within_1_percent():
    ptflops = pytest.importorskip("ptflops")
    torchvision = pytest.importorskip("torchvision")
    s = mbv2_space()
    cost = s.cost(s.preset("mobilenetv2"), MBV2)
    macs, params = ptflops.get_model_complexity_info(torchvision.models.mobilenet_v2(), (3, 224, 224),
                                                     as_strings=False, backend="aten", print_per_layer_stat=False)
    assert params == cost.params
    assert abs(cost.macs - macs) / macs < 0.01
    assert abs(cost.macs - 300.8e6) / 300.8e6 < 0.01


def test_cli_cost_mobilenetv2(capsys):
    assert cli_main(["space", "cost", "--space", "block", "--preset", "mobilenetv2",
                     "--input", "224", "--classes", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == TORCHVISION_MBV2_PARAMS
    assert abs(out["macs"] - 300.8e6) / 300.8e6 < 0.01
    assert out["space"] == "block" and out["arch"] == BlockSpace.presets["mobilenetv2"]


def test_cli_sample_is_seeded_and_canonical(capsys):
    cli_main(["space", "sample", "--space", "block", "--n", "5", "--seed", "3"])
    first = capsys.readouterr().out.split()
    cli_main(["space", "sample", "--space", "block", "--n", "5", "--seed", "3"])
    assert capsys.readouterr().out.split() == first and len(first) == 5
    s = space()
    assert [s.encode(s.decode(x)) for x in first] == first


def test_cli_bad_string_exits_2_with_position(capsys):
    assert cli_main(["space", "cost", "sep_k3_l1_w1_s0"]) == 2
    err = capsys.readouterr().err
    assert "position 15" in err and "expected 7" in err and len(err.strip().splitlines()) == 1


def test_cli_show_writes_png(tmp_path, capsys):
    out = tmp_path / "a.png"
    assert cli_main(["space", "show", "--preset", "mbv2_like", "--input", "32", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_presets_outside_searched_ops_build_but_have_no_tokens():
    s = space()
    arch = s.preset("mobilenetv2")
    assert arch[0].op == "mb1"
    with pytest.raises(ValueError, match="mb1"):
        s.tokens(arch)
    wide = space(ops=("mb1", "sep", "mb3", "mb6"))
    assert wide.from_tokens(wide.tokens(arch)) == arch
    for name in ("mbv2_like", "tiny"):
        s.validate(s.preset(name))


# --- grammar -------------------------------------------------------------------------------
GOOD = "sep_k3_l1_w1_s0-mb6_k3_l2_w1_s1-mb3_k5_l3_w1.5_s0-mb6_k7_l4_w2_s1-sep_k5_l1_w0.5_s1-mb3_k3_l2_w1_s0-mb6_k7_l1_w1_s1"


def test_decode_values_and_round_trip():
    s = space()
    arch = s.decode(GOOD)
    assert arch[0] == BlockGene("sep", 3, 0, 1, 1.0)
    assert arch[2] == BlockGene("mb3", 5, 0, 3, 1.5)
    assert arch[4].width == 0.5 and s.encode(arch) == GOOD
    assert len(s.tokens(arch)) == 35 and s.position_names()[:5] == ("b0.op", "b0.kernel", "b0.skip", "b0.layers", "b0.width")


@pytest.mark.parametrize("bad, pos, words", [
    ("", 0, "empty"),
    (GOOD.rsplit("-", 1)[0], len(GOOD.rsplit("-", 1)[0]), "found 6 blocks"),
    (GOOD + "-sep_k3_l1_w1_s0", len(GOOD), "found 8 blocks"),
    (GOOD.replace("mb6_k3_l2", "mb9_k3_l2"), 16, "unknown operation 'mb9'"),
    (GOOD.replace("sep_k3_l1_w1", "sep_k4_l1_w1", 1), 5, "kernel '4'"),
    (GOOD.replace("mb6_k7_l4", "mb6_k7_l5"), GOOD.index("mb6_k7_l4") + 8, "layers '5'"),
    (GOOD.replace("w1.5", "w0.7"), GOOD.index("w1.5") + 1, "width '0.7'"),
    (GOOD.replace("w1.5", "w1.50"), GOOD.index("w1.5") + 1, "width '1.50'"),
    (GOOD.replace("_w1_s0-mb6", "_w1.0_s0-mb6", 1), GOOD.index("_w1_s0-mb6") + 2, "width '1.0'"),
    (GOOD.replace("_s0-mb6", "_s2-mb6", 1), GOOD.index("_s0-mb6") + 2, "skip '2'"),
    (GOOD.replace("sep_k3_l1_w1_s0", "sep_l1_k3_w1_s0", 1), 4, "should be kernel"),
    (GOOD.replace("sep_k3_l1_w1_s0", "sep_k3_l1_w1", 1), 0, "has 4"),
    (GOOD.replace("-", "--", 1), 16, "empty block 1"),
    (GOOD + "-", len(GOOD) + 1, "empty block 7"),
])
def test_decode_errors_name_position_and_value(bad, pos, words):
    with pytest.raises(ArchStringError) as info:
        space().decode(bad)
    assert info.value.position == pos, str(info.value)
    assert words in str(info.value)


def test_decode_error_lists_allowed_values():
    with pytest.raises(ArchStringError, match=r"\['3', '5', '7'\]"):
        space().decode(GOOD.replace("sep_k3", "sep_k9", 1))


# --- stride rule ---------------------------------------------------------------------------
def _sizes(input_size: int, **kw) -> list[int]:
    s = space(**kw)
    plan = s.plan(s.preset("mbv2_like"), BuildSpec(10, input_size, 3))
    return [(plan.input_size - 1) // plan.stem_stride + 1] + [(b[-1].size - 1) // b[-1].stride + 1 for b in plan.blocks]


@pytest.mark.parametrize("size, expected", [
    (224, [112, 112, 56, 28, 14, 14, 7, 7]),
    (64, [32, 32, 16, 8, 4, 4, 2, 2]),
    (32, [32, 32, 16, 8, 4, 4, 2, 2]),
    (28, [28, 28, 14, 7, 4, 4, 2, 2]),
    (8, [8, 8, 4, 2, 2, 2, 2, 2]),
    (4, [4, 4, 2, 2, 2, 2, 2, 2]),
])
def test_stride_rule_sizes(size, expected):
    assert _sizes(size) == expected


def test_stem_stride_option_overrides_rule():
    assert _sizes(32, stem_stride=2)[0] == 16
    assert _sizes(224, stem_stride=1)[:3] == [224, 224, 112]


@pytest.mark.parametrize("size", [3, 0, -5])
def test_impossible_resolution_names_value(size):
    s = space()
    with pytest.raises(ConfigError, match=f"input size {size} px"):
        s.cost(s.preset("tiny"), BuildSpec(10, size, 3))


def test_resolve_strides_at_224_is_mobilenetv2():
    assert resolve_strides(224, space().options) == (2, (1, 2, 2, 2, 1, 2, 1))


# --- skip modes and widths -----------------------------------------------------------------
ONE = "mb6_k3_l2_w1_s1-" + "-".join(["mb6_k3_l1_w1_s1"] * 6)


def _shortcuts(s: BlockSpace, text: str, size: int = 224) -> list[list[str]]:
    return [[lp.shortcut for lp in b] for b in s.plan(s.decode(text), BuildSpec(10, size, 3)).blocks]


def test_projection_mode_projects_when_shapes_differ():
    sc = _shortcuts(space(skip_mode="projection"), ONE)
    assert sc[0] == ["projection", "identity"]          # 32 -> 16, then 16 -> 16
    assert sc[1] == ["projection"]                      # stride 2
    model = space(skip_mode="projection").build(space().decode(ONE), BuildSpec(10, 224, 3))
    assert isinstance(model.blocks[0].layers[0].shortcut, ConvBNAct)
    assert model.blocks[0].layers[0].shortcut.conv.stride == (1, 1)
    assert model.blocks[1].layers[0].shortcut.conv.stride == (2, 2)


def test_mobilenetv2_mode_identity_only():
    sc = _shortcuts(space(skip_mode="mobilenetv2"), ONE)
    assert sc[0] == ["none", "identity"] and sc[1] == ["none"]


def test_skip_zero_means_no_shortcut_and_sepconv_skip_option():
    text = "-".join(["sep_k3_l2_w1_s1"] * 7)
    assert _shortcuts(space(), text)[0] == ["projection", "identity"]
    paper = space(sepconv_skip=False)
    assert _shortcuts(paper, text)[0] == ["none", "none"]
    a, b = paper.decode(text), paper.decode(text.replace("_s1", "_s0"))
    assert paper.canonical_key(a) == paper.canonical_key(b) and a != b
    assert paper.cost(a, MBV2) == paper.cost(b, MBV2)
    assert space().canonical_key(a) != space().canonical_key(b)


def test_small_input_drops_stride_so_identity_replaces_projection():
    text = "-".join(["mb6_k3_l1_w1_s1"] * 7)
    assert _shortcuts(space(), text, 224)[5] == ["projection"]   # 96 -> 160, stride 2
    text2 = "mb6_k3_l1_w1_s1-" * 4 + "mb6_k3_l1_w1_s1-mb6_k3_l1_w0.5_s1-mb6_k3_l1_w1_s1"
    # block 5: 96 -> 80 channels; at 8 px its stride is dropped (map already 2 px)
    assert space().plan(space().decode(text2), BuildSpec(10, 8, 3)).blocks[5][0].stride == 1


def test_width_factor_and_global_multiplier():
    s = space(width_multiplier=0.5)
    plan = s.plan(s.decode(GOOD), BuildSpec(10, 32, 3))
    assert plan.stem_channels == 16
    assert [b[0].c_out for b in plan.blocks] == [8, 12, 24, 64, 24, 80, 160]  # int(c * w * 0.5)
    assert plan.head_channels == 1280                          # head scaled only when > 1
    big = space(width_multiplier=1.4).plan(s.decode(GOOD), BuildSpec(10, 32, 3))
    assert big.head_channels == 1792 and big.stem_channels == 44


def test_config_section_constructs_space():
    cfg = load_config(None, {"space.skip_mode": "mobilenetv2", "space.dropout": 0.2})
    opts = {k: v for k, v in cfg["space"].items() if k != "name"}
    s = get_space(cfg["space"]["name"], **opts)
    assert isinstance(s, BlockSpace) and s.options.skip_mode == "mobilenetv2"
    model = s.build(s.preset("tiny"), BuildSpec(10, 8, 1))
    assert isinstance(model.dropout, nn.Dropout) and model.dropout.p == 0.2


@pytest.mark.parametrize("kw, words", [
    ({"skip_mode": "resnet"}, "skip_mode"), ({"width_multiplier": 0}, "width_multiplier"),
    ({"ops": ("sep", "conv9")}, "conv9"), ({"kernels": (3, 4)}, "odd"), ({"widths": (1.0, 1.0)}, "duplicates"),
    ({"stem_stride": 3}, "stem_stride"),
])
def test_bad_options_raise(kw, words):
    with pytest.raises(ConfigError, match=words):
        space(**kw)


# --- naming (weight inheritance) -----------------------------------------------------------
def _names(text: str) -> set[str]:
    s = space()
    with torch.device("meta"):
        return set(s.build(s.decode(text), BuildSpec(10, 32, 3)).state_dict())


def test_module_names_follow_convention_and_are_stable():
    names = _names(GOOD)
    assert all(n.split(".")[0] in {"stem", "blocks", "head", "classifier"} for n in names)
    assert "blocks.3.layers.3.expand.conv.weight" in names and "blocks.0.layers.0.project.conv.weight" in names
    kernel = GOOD.replace("mb6_k3_l2", "mb6_k7_l2")
    width = GOOD.replace("mb6_k3_l2_w1", "mb6_k3_l2_w2")
    assert _names(kernel) == names and _names(width) == names


# --- API behaviour -------------------------------------------------------------------------
def test_actions_cover_every_single_token_change_and_apply_matches_tokens():
    s = space()
    arch = s.decode(GOOD)
    acts = s.actions(arch)
    assert len(acts) == sum(n - 1 for n in s.vocab_sizes()) == 77
    for act in acts:
        child = s.apply(arch, act)
        assert child == SearchSpace.apply(s, arch, act) and s.distance(arch, child) == 1
    with pytest.raises(ValueError):
        s.apply(arch, Action(0, s.tokens(arch)[0]))


def test_sample_reproducible_and_covers_choices():
    s = space()
    a = [s.sample(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(1)
    seen = {(g.op, g.kernel, g.layers, g.width, g.skip) for _ in range(300) for g in s.sample(rng)}
    assert {x[0] for x in seen} == {"sep", "mb3", "mb6"} and {x[3] for x in seen} == {0.5, 1.0, 1.5, 2.0}


def test_from_tokens_accepts_numpy_and_rejects_bad_tokens():
    np = pytest.importorskip("numpy")
    s = space()
    arch = s.decode(GOOD)
    assert s.from_tokens(np.array(s.tokens(arch))) == arch
    for bad in ([0] * 34, [0] * 34 + [4], [0] * 34 + [-1], [0.5] * 35):
        with pytest.raises(ValueError):
            s.from_tokens(bad)
        assert not s.is_valid_tokens(bad)


def test_features_one_hot():
    s = space()
    f = s.features(s.decode(GOOD))
    assert f.shape == (sum(s.vocab_sizes()),) and f.sum() == 35


def test_op_registry_is_extensible():
    assert {"sep", "mb1", "mb3", "mb6"} <= set(OPS.names())
    s = space(ops=("mb1", "mb6"))
    assert s.vocab_sizes()[0] == 2


# --- analytic cost == built module ---------------------------------------------------------
RESOLUTIONS = (8, 28, 32, 224)
VARIANTS = ({}, {"skip_mode": "mobilenetv2"}, {"width_multiplier": 1.4}, {"width_multiplier": 0.35, "sepconv_skip": False})


def _layer_params(cache: dict, lp) -> int:
    key = lp._replace(size=0)
    if key not in cache:
        cache[key] = count_params(OPS.get(lp.op).build(lp.c_in, lp.c_out, lp.kernel, lp.stride, lp.shortcut))
    return cache[key]


def test_analytic_params_equal_built_layers_for_1000_architectures(no_default_init):
    """Every layer of 1000 plans is built (cached by configuration) and counted; the network's
    parameters are exactly stem + layers + head + classifier (checked on whole models below)."""
    rng = random.Random(0)
    cache: dict = {}
    spaces = [space(**v) for v in VARIANTS]
    for i in range(1000):
        s = spaces[i % len(spaces)]
        spec = BuildSpec(num_classes=(10, 100)[i % 2], input_size=RESOLUTIONS[i % 4], in_channels=(1, 3)[i % 2])
        arch = s.sample(rng)
        plan = s.plan(arch, spec)
        built = (count_params(ConvBNAct(plan.in_channels, plan.stem_channels, 3, plan.stem_stride))
                 + sum(_layer_params(cache, lp) for b in plan.blocks for lp in b)
                 + count_params(ConvBNAct(plan.head_in, plan.head_channels, 1))
                 + count_params(nn.Linear(plan.head_channels, plan.num_classes)))
        assert s.cost(arch, spec).params == built, s.encode(arch)


def test_analytic_cost_equals_whole_built_model_and_hook_macs(no_default_init):
    rng = random.Random(1)
    spaces = [space(**v) for v in VARIANTS]
    for i in range(40):
        s = spaces[i % len(spaces)]
        spec = BuildSpec(num_classes=10, input_size=RESOLUTIONS[i % 4], in_channels=3)
        arch = s.sample(rng)
        cost = s.cost(arch, spec)
        model = BlockNet(s.plan(arch, spec), init=False)
        assert count_params(model) == cost.params
        if i % 4 != 3:  # 224 px forward is too slow for a unit test; its MACs are checked on meta below
            assert measure_macs(model, spec.input_size, spec.in_channels) == cost.macs
    for i in range(8):
        arch = spaces[i % 4].sample(rng)
        with torch.device("meta"):
            model = spaces[i % 4].build(arch, MBV2)
        assert measure_macs(model, 224) == spaces[i % 4].cost(arch, MBV2).macs


def test_forward_shapes_at_small_resolutions():
    s = space()
    arch = s.decode(GOOD)
    for size, ch in ((8, 1), (28, 1), (32, 3)):
        model = s.build(arch, BuildSpec(7, size, ch)).eval()
        with torch.no_grad():
            assert model(torch.randn(2, ch, size, size)).shape == (2, 7)


# --- layer library twins -------------------------------------------------------------------
@pytest.mark.parametrize("c_in, c_out, k, stride, groups, dilation, size", [
    (3, 8, 3, 1, 1, 1, 9), (8, 8, 5, 2, 8, 1, 7), (6, 12, 3, 2, 3, 2, 11), (4, 4, 1, 1, 1, 1, 1), (5, 7, 7, 2, 1, 1, 4),
])
def test_conv_bn_act_twin(c_in, c_out, k, stride, groups, dilation, size):
    from eatnas.models.layers import conv_bn_act_cost, conv_out_size
    m = ConvBNAct(c_in, c_out, k, stride, groups=groups, act=None, dilation=dilation).eval()
    cost, out = conv_bn_act_cost(c_in, c_out, k, stride, size, groups=groups, dilation=dilation)
    assert m(torch.zeros(1, c_in, size, size)).shape[-1] == out == conv_out_size(size, k, stride, dilation=dilation)
    assert (cost.params, cost.macs) == (count_params(m), measure_macs(m, size, c_in))


@pytest.mark.parametrize("shortcut", ["none", "identity", "projection"])
@pytest.mark.parametrize("op", ["sep", "mb1", "mb3", "mb6"])
def test_op_twins(op, shortcut):
    stride, c_out = (1, 8) if shortcut == "identity" else (2, 12)
    m = OPS.get(op).build(8, c_out, 5, stride, shortcut)
    cost, out = OPS.get(op).cost(8, c_out, 5, stride, 9, shortcut)
    y = m(torch.randn(2, 8, 9, 9))
    assert y.shape == (2, c_out, out, out)
    assert (cost.params, cost.macs) == (count_params(m), measure_macs(m, 9, 8))
    assert (m.shortcut is not None) == (shortcut == "projection")
