"""The transfer stage end to end on digits -> digits (fast): offspring files, inheritance, errors."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from eatnas.config import load_config
from eatnas.errors import EatnasError
from eatnas.space.base import BuildSpec, get_space
from eatnas.train import evaluate, load_checkpoint, save_checkpoint, train_model
from eatnas.transfer.context import load_task, space_from_config, train_settings
from eatnas.transfer.stage import run_transfer
from eatnas.utils.io import write_json_atomic

BASIC = "mb3_k3_l1_w1_s1-mb3_k3_l2_w1_s1-sep_k3_l1_w1_s0-sep_k3_l1_w1_s1-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0"


def _cfg(**overrides):
    base = {"seed": 0, "device": "cpu", "threads": 1, "space.head_channels": 32,
            "data.small": {"name": "digits"}, "data.large": {"name": "digits"},
            "train.batch_size": 64, "train.lr": 0.1,
            "transfer.population": 5, "transfer.move_probability": 0.1, "transfer.max_distance": 2,
            "transfer.parent_epochs": 2}
    base.update(overrides)
    return load_config(None, base)


@pytest.fixture(scope="module")
def select_dir(tmp_path_factory) -> Path:
    """A select-stage output: the basic architecture trained briefly on digits."""
    cfg = _cfg()
    out = tmp_path_factory.mktemp("select")
    space = space_from_config(cfg)
    task = load_task(cfg, "small", 0)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = space.build(space.decode(BASIC), task.spec)
    train_model(model, task.splits, epochs=4, cfg=train_settings(cfg), device="cpu", seed=0)
    save_checkpoint(out / "basic.pt", model, arch=BASIC)
    write_json_atomic(out / "basic.json", {"space": "block", "arch": BASIC, "small_spec": {
        "num_classes": task.spec.num_classes, "input_size": task.spec.input_size, "in_channels": 1}})
    return out


@pytest.fixture(scope="module")
def transferred(select_dir, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("transfer")
    return run_transfer(_cfg(), select_dir, out), out


def test_offspring_json_and_checkpoints(transferred) -> None:
    result, out = transferred
    on_disk = json.loads((out / "offspring.json").read_text())
    assert on_disk["space"] == "block" and on_disk["basic"] == BASIC and "code_version" in on_disk
    kids = on_disk["offspring"]
    assert len(kids) == 5 and kids[0]["arch"] == BASIC and kids[0]["distance"] == 0
    assert len({k["arch"] for k in kids}) == 5
    space = get_space("block", head_channels=32)
    for kid in kids:
        assert kid["distance"] == space.distance(space.decode(BASIC), space.decode(kid["arch"])) <= 2
        ckpt = load_checkpoint(kid["checkpoint"])
        assert ckpt["arch"] == kid["arch"]
        counts = kid["inherit_report"]
        assert counts["inherited"] + counts["adapted"] + counts["initialised"] == len(ckpt["model"])
    assert (out / "parent.pt").is_file()
    assert kids[0]["inherit_report"]["initialised"] == 0  # the basic architecture takes every parent tensor


def test_inherited_offspring_start_above_chance_scratch_do_not(transferred) -> None:
    result, _ = transferred
    cfg = _cfg()
    space, task = space_from_config(cfg), load_task(cfg, "large", 0)
    inherited, scratch = [], []
    for i, kid in enumerate(result["offspring"]):
        arch = space.decode(kid["arch"])
        model = space.build(arch, task.spec)
        model.load_state_dict(load_checkpoint(kid["checkpoint"])["model"])
        acc = evaluate(model, task.splits.val, "cpu")[0]
        assert acc == pytest.approx(kid["inherited_val_accuracy"])
        inherited.append(acc)
        torch.manual_seed(100 + i)
        scratch.append(evaluate(space.build(arch, task.spec), task.splits.val, "cpu")[0])
    chance = 100.0 / task.spec.num_classes
    assert inherited[0] > 4 * chance                       # the basic architecture itself
    assert statistics.fmean(inherited) > 3 * chance
    assert statistics.fmean(scratch) < 2 * chance


def test_basic_from_another_space_is_rejected(select_dir, tmp_path) -> None:
    bad = tmp_path / "select"
    bad.mkdir()
    (bad / "basic.pt").write_bytes((select_dir / "basic.pt").read_bytes())
    write_json_atomic(bad / "basic.json", {"space": "nb201", "arch": "|nor_conv_3x3~0|"})
    with pytest.raises(EatnasError, match=r"space 'nb201'.*space\.name='block'"):
        run_transfer(_cfg(), bad, tmp_path / "out")
    write_json_atomic(bad / "basic.json", {"arch": "|nor_conv_3x3~0|+|none~0|"})  # unlabelled, wrong grammar
    with pytest.raises(EatnasError, match="not a searchable 'block' architecture"):
        run_transfer(_cfg(), bad, tmp_path / "out")


def test_missing_basic_names_the_command(tmp_path) -> None:
    with pytest.raises(EatnasError, match="eatnas select"):
        run_transfer(_cfg(), tmp_path, tmp_path / "out")


def test_unreachable_cost_target_is_a_clear_error(select_dir, tmp_path) -> None:
    with pytest.raises(EatnasError, match=r"transfer\.cost_target=1000 macs cannot be met at 8px"):
        run_transfer(_cfg(**{"transfer.cost_target": 1000}), select_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "offspring.json").exists()


def test_cost_target_scales_before_training(select_dir, tmp_path) -> None:
    space = get_space("block", head_channels=32)
    full = space.cost(space.decode(BASIC), BuildSpec(10, 8, 1)).macs
    result = run_transfer(_cfg(**{"transfer.cost_target": full * 0.7, "transfer.parent_epochs": 0.2,
                                  "transfer.population": 2}), select_dir, tmp_path / "out")
    assert result["scaling"]["macs"] <= full * 0.7
    assert result["basic"] != BASIC and result["basic_small"] == BASIC
    assert result["parent"]["inherit_report"]["adapted"] > 0


def test_impossible_offspring_setting_fails_before_training(select_dir, tmp_path) -> None:
    cfg = _cfg(**{"transfer.population": 500, "transfer.max_distance": 1, "transfer.max_tries": 200})
    with pytest.raises(EatnasError, match=r"transfer\.population=500"):
        run_transfer(cfg, select_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "parent.pt").exists()
