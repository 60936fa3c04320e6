"""`eatnas quant joint` on digits: outputs, exported files, resume after an interruption, bad input."""

import csv
import json

import pytest
import yaml

from eatnas.cli import main
from eatnas.utils.io import read_jsonl

CONFIG = {
    "seed": 0, "device": "cpu", "threads": 1,
    "data": {"large": {"name": "digits"}},
    "space": {"name": "block", "width_multiplier": 0.25, "head_channels": 32},
    "train": {"lr": 0.1, "batch_size": 64},
    "quant": {"joint_epochs": 3, "bits": [4, 8, 32],  # quant.granularity stays layer: the joint genome is per block
              "search": {"strategy": "rea", "removal": "oldest", "population": 3, "sample": 2, "evaluations": 7}},
}


@pytest.fixture(scope="module")
def joint(tmp_path_factory):
    from eatnas.quant.joint_stage import run_joint_stage

    root = tmp_path_factory.mktemp("joint")
    (root / "c.yaml").write_text(yaml.safe_dump(CONFIG))
    return root, run_joint_stage(str(root / "c.yaml"), str(root / "out"))


def test_outputs_front_and_best(joint):
    root, summary = joint
    out = root / "out"
    evals = [r for r in read_jsonl(out / "history.jsonl") if r.get("event") == "eval"]
    assert len(evals) == summary["evaluations"] == 7
    assert all(r["status"] == "ok" for r in evals)  # every network of the variable-depth space has its bit genes
    assert summary["bits"] and all(".layers." not in unit for unit in summary["bits"])  # quant.joint_granularity: block
    rows = list(csv.DictReader(open(out / "frontier.csv")))
    assert len(rows) == sum(r["status"] == "ok" for r in evals)
    best = [r for r in rows if r["best"] == "True"]
    assert len(best) == 1 and best[0]["pareto"] == "True"  # the max-fitness candidate is non-dominated
    assert best[0]["arch"] == summary["arch"] and set(best[0]["bits"].split(",")) <= {"4", "8", "32"}
    # the initial members carry one bit-width each, so several bit-widths are evaluated
    assert len({r["bits"] for r in rows}) > 1 and len({r["arch"] for r in rows}) > 1
    policy = json.loads((out / "policy.json").read_text())
    assert policy["arch"] == summary["joint_arch"]
    assert {e["bits"] for e in policy["layers"]} <= {4, 8, 32}
    assert summary["metrics"]["accuracy_exported"] == pytest.approx(summary["metrics"]["accuracy"])
    assert summary["config"]["quant"]["joint_epochs"] == 3 and summary["code_version"]


def test_quant_apply_reads_the_exported_files(joint, capsys):
    root, summary = joint
    out = root / "out"
    rc = main(["quant", "apply", "--model", str(out / "quantized.pt"), "--policy", str(out / "policy.json"),
               "--data", "digits", "--config", str(root / "c.yaml")])
    assert rc == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["size_mb"] == pytest.approx(summary["size_mb"])
    assert applied["test_accuracy"] > 20  # 10 classes: far above chance


def test_interrupted_run_resumes_to_the_same_result(joint, tmp_path):
    """Cut the history after 4 evaluations (as a kill would leave it): the rerun continues, same outcome."""
    import shutil

    from eatnas.quant.joint_stage import run_joint_stage

    root, summary = joint
    shutil.copytree(root / "out", tmp_path / "out")
    out = tmp_path / "out"
    lines = (out / "history.jsonl").read_text().splitlines(keepends=True)
    (out / "history.jsonl").write_text("".join(lines[:1 + 4]))  # header + 4 results
    proposals = (out / "state" / "proposals.jsonl").read_text().splitlines(keepends=True)
    (out / "state" / "proposals.jsonl").write_text(
        "".join(ln for ln in proposals if json.loads(ln)["told_before"] <= 4))  # those made before result 5
    (out / "best.json").unlink()
    again = run_joint_stage(str(root / "c.yaml"), str(tmp_path / "out"))
    assert again["joint_arch"] == summary["joint_arch"] and again["evaluations"] == 7
    assert again["metrics"]["accuracy"] == pytest.approx(summary["metrics"]["accuracy"])
    evals = [r for r in read_jsonl(tmp_path / "out" / "history.jsonl") if r.get("event") == "eval"]
    assert [r["arch"] for r in evals] == [r["arch"] for r in read_jsonl(root / "out" / "history.jsonl")
                                          if r.get("event") == "eval"]


def test_other_config_in_the_same_folder_and_bad_data_section(joint, tmp_path, capsys):
    root, _ = joint
    other = {**CONFIG, "seed": 1}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(other))
    assert main(["quant", "joint", "--config", str(tmp_path / "c.yaml"), "--out", str(root / "out")]) == 2
    assert "another search config" in capsys.readouterr().err
    bad = {**CONFIG, "quant": {**CONFIG["quant"], "joint_epochs": 0}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert main(["quant", "joint", "--config", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "quant.joint_epochs" in capsys.readouterr().err


def test_inheriting_joint_stage_resumes_from_float_checkpoints(tmp_path, capsys):
    """``quant.joint_child_epochs``: children fine-tune from their parent's saved float weights; a rerun
    after an interruption continues from those checkpoints to the same result; the export reloads."""
    from eatnas.quant.joint_stage import run_joint_stage

    cfg = {**CONFIG, "quant": {**CONFIG["quant"], "joint_child_epochs": 1}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    first = run_joint_stage(str(tmp_path / "c.yaml"), str(tmp_path / "a"))
    evals = [r for r in read_jsonl(tmp_path / "a" / "history.jsonl") if r.get("event") == "eval"]
    by_index = {r["index"]: r for r in evals}
    assert len(list((tmp_path / "a" / "checkpoints").glob("*.pt"))) == len(evals) == 7
    for r in evals:  # initial members: joint_epochs from scratch; a child: its parent's epochs + 1
        want = 3 if r["init"] else by_index[r["parent_index"]]["metrics"]["epochs"] + 1
        assert r["metrics"]["epochs"] == want
    assert max(r["metrics"]["epochs"] for r in evals) >= 4 and first["networks_trained"] == 7

    import shutil

    shutil.copytree(tmp_path / "a", tmp_path / "b")
    out = tmp_path / "b"
    lines = (out / "history.jsonl").read_text().splitlines(keepends=True)
    (out / "history.jsonl").write_text("".join(lines[:1 + 5]))
    proposals = (out / "state" / "proposals.jsonl").read_text().splitlines(keepends=True)
    (out / "state" / "proposals.jsonl").write_text("".join(ln for ln in proposals if json.loads(ln)["told_before"] <= 5))
    for f in ["best.json"] + [f"checkpoints/{i:05d}.pt" for i in range(5, 7)]:
        (out / f).unlink(missing_ok=True)
    again = run_joint_stage(str(tmp_path / "c.yaml"), str(out))
    assert again["joint_arch"] == first["joint_arch"]
    assert again["metrics"]["accuracy"] == pytest.approx(first["metrics"]["accuracy"])
    assert again["networks_trained"] == 2  # only the two evaluations lost to the interruption

    assert main(["quant", "apply", "--model", str(out / "quantized.pt"), "--policy", str(out / "policy.json"),
                 "--data", "digits", "--config", str(tmp_path / "c.yaml")]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["size_mb"] == pytest.approx(first["size_mb"]) and applied["test_accuracy"] > 20


@pytest.mark.gpu
def test_joint_stage_trains_and_validates_on_the_gpu(tmp_path, capsys, monkeypatch):
    """``device: cuda``: data on the GPU, every PTQ copy validated there; the export still reloads on the CPU."""
    import eatnas.train.trainer as trainer
    from eatnas.quant.joint_stage import run_joint_stage

    devices = []
    real = trainer.evaluate

    def spy(model, split, device, *args, **kw):
        devices.append((str(device), next(model.parameters()).device.type, split.device.type))
        return real(model, split, device, *args, **kw)

    monkeypatch.setattr(trainer, "evaluate", spy)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**CONFIG, "device": "cuda"}))
    summary = run_joint_stage(str(tmp_path / "c.yaml"), str(tmp_path / "out"))
    assert summary["evaluations"] == 7 and devices
    assert all(d[0].startswith("cuda") and d[1] == "cuda" and d[2] == "cuda" for d in devices)
    assert summary["metrics"]["accuracy_exported"] == pytest.approx(summary["metrics"]["accuracy"])
    assert main(["quant", "apply", "--model", str(tmp_path / "out" / "quantized.pt"), "--policy",
                 str(tmp_path / "out" / "policy.json"), "--data", "digits", "--config", str(tmp_path / "c.yaml")]) == 0
    assert json.loads(capsys.readouterr().out)["test_accuracy"] > 20
