"""End to end on digits: quant search --net, exported files reproduce the searched accuracy, quant apply/size."""

import csv
import json

import pytest
import torch
import yaml

from eatnas.cli import main
from eatnas.utils.io import read_jsonl



CONFIG = {
    "seed": 0, "device": "cpu", "threads": 1,
    "data": {"large": {"name": "digits"}},
    "train": {"lr": 0.1},
    "quant": {"net_epochs": 1, "granularity": "block", "bits": [2, 4, 8, 16, 32],
              "search": {"strategy": "random", "population": 5, "sample": 2, "evaluations": 8}},
}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from eatnas.quant.stage import run_search

    root = tmp_path_factory.mktemp("quant")
    (root / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    summary = run_search(str(root / "c.yaml"), str(root / "out"), net="block:tiny")
    return root, summary


def test_search_outputs(searched):
    root, summary = searched
    out = root / "out"
    history = list(read_jsonl(out / "history.jsonl"))
    assert len(history) == summary["evaluations"] == 8
    rows = list(csv.DictReader(open(out / "frontier.csv")))
    labels = {r["label"] for r in rows}
    assert {"uniform-2", "uniform-4", "uniform-8", "uniform-16", "float"} <= labels
    best = [r for r in rows if r["arch"] == summary["arch"]][0]
    assert best["pareto"] == "True"  # max JASQ fitness is always non-dominated
    assert set(summary["baselines"]) == {"uniform-2", "uniform-4", "uniform-8", "uniform-16", "float"}
    policy = json.loads((out / "policy.json").read_text())
    assert policy["arch"] == summary["arch"] and len(policy["layers"]) == 17
    assert (out / "quantized.onnx").is_file() and summary["onnx"]["max_abs_diff"] < 1e-4


def test_exported_model_reproduces_searched_accuracy(searched):
    from eatnas.data import DatasetConfig, load_dataset
    from eatnas.quant.export import load_quantized, read_quantized
    from eatnas.quant.stage import rebuild
    from eatnas.train.trainer import evaluate

    root, summary = searched
    header, _ = read_quantized(root / "out" / "quantized.pt")
    model, _ = load_quantized(rebuild(header), root / "out" / "quantized.pt")
    splits = load_dataset(DatasetConfig(name="digits"), 0)
    assert evaluate(model, splits.val, "cpu")[0] == summary["metrics"]["accuracy"]


def test_apply_cli(searched, capsys):
    root, summary = searched
    out = root / "out"
    rc = main(["quant", "apply", "--model", str(out / "quantized.pt"), "--policy", str(out / "policy.json"),
               "--data", "digits", "--config", str(root / "c.yaml")])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["size_mb"] == pytest.approx(summary["metrics"]["size_mb"])
    assert 0 <= result["test_accuracy"] <= 100


def test_apply_mismatched_policy_fails(searched, tmp_path, capsys):
    root, _ = searched
    policy = json.loads((root / "out" / "policy.json").read_text())
    policy["layers"][0]["bits"] = 2 if policy["layers"][0]["bits"] != 2 else 4
    (tmp_path / "p.json").write_text(json.dumps(policy))
    rc = main(["quant", "apply", "--model", str(root / "out" / "quantized.pt"), "--policy", str(tmp_path / "p.json"),
               "--data", "digits"])
    assert rc == 2 and "policy differs" in capsys.readouterr().err


def test_size_cli(capsys):
    assert main(["quant", "size", "--net", "block:tiny", "--bits", "8", "--data", "digits"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["size_mb"] == pytest.approx(out["params"] / 1e6 + (out["overhead_bytes"] + 3 * out["float_bytes"] / 4) / 1e6)
    assert main(["quant", "size", "--net", "resnet18", "--bits", "7"]) == 2
    assert "--bits=7 is not supported" in capsys.readouterr().err


def test_bad_target_in_config(tmp_path, capsys):
    cfg = {**CONFIG, "quant": {**CONFIG["quant"], "target_mb": 0}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["quant", "search", "--config", str(tmp_path / "c.yaml"), "--net", "block:tiny",
                 "--out", str(tmp_path / "o")]) == 2
    assert "target_mb" in capsys.readouterr().err


def test_prepare_model_from_search_dir(tmp_path):
    """``--search DIR``: best.json's architecture is rebuilt and its checkpoint loaded."""
    import types


    from eatnas.config import load_config
    from eatnas.quant.stage import prepare_model
    from eatnas.space.base import BuildSpec, get_space
    from eatnas.train.checkpoint import save_checkpoint

    space = get_space("block")
    arch = space.encode(space.preset("tiny"))
    trained = space.build(space.preset("tiny"), BuildSpec(10, 8, 1))
    save_checkpoint(tmp_path / "checkpoints" / "c3.pt", trained, arch=arch)
    (tmp_path / "best.json").write_text(json.dumps({"best": {"arch": arch, "checkpoint": "checkpoints/c3.pt"}}))
    splits = types.SimpleNamespace(num_classes=10, resolution=8, in_channels=1)
    model, meta = prepare_model(load_config(), splits, str(tmp_path), None, None, "cpu")
    assert meta["net"] == f"block:{arch}"
    for k, v in trained.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    (tmp_path / "best.json").write_text(json.dumps({"best": {"checkpoint": "x.pt"}}))
    with pytest.raises(Exception, match="no 'arch' string"):
        prepare_model(load_config(), splits, str(tmp_path), None, None, "cpu")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_quant_search_with_activation_quant_and_finetuning_on_the_job_device(tmp_path, device):
    """Policies are evaluated on the job's device; the final model is fine-tuned there and exported on the CPU."""
    from eatnas.quant.stage import run_search

    cfg = {**CONFIG, "device": device, "quant": {**CONFIG["quant"], "act_bits": 8, "finetune_epochs": 0.2}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    summary = run_search(str(tmp_path / "c.yaml"), str(tmp_path / "out"), net="block:tiny")
    assert summary["evaluations"] == 8 and 0.0 <= summary["metrics"]["accuracy"] <= 100.0
    assert 0.0 <= summary["metrics"]["accuracy_finetuned"] <= 100.0
    assert (tmp_path / "out" / "quantized.pt").is_file() and (tmp_path / "out" / "quantized.onnx").is_file()
