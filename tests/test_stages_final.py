"""Final stage on a tiny task: trains, quantizes with a given policy, exports, re-loads and evaluates."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from eatnas.config import load_config
from eatnas.errors import EatnasError

TINY = {
    "run": "t", "threads": 1, "device": "cpu",
    "data": {"large": {"name": "digits", "subset_fraction": 0.5}},
    "space": {"width_multiplier": 0.25, "head_channels": 16},
    "final": {"epochs": 1.5, "train": {"batch_size": 32}},  # one epoch boundary: a resume state is written
    "quant": {"size_format": "packed"},
}


@pytest.fixture
def setup(tmp_path):
    """A config, a search folder with best.json and an 8-bit policy for its architecture."""
    from eatnas.quant.export import write_policy_json
    from eatnas.quant.policy import uniform_policy
    from eatnas.space.base import BuildSpec
    from eatnas.transfer.context import space_from_config

    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY))
    cfg = load_config(cfg_path)
    space = space_from_config(cfg)
    arch = space.sample(random.Random(3))
    search = tmp_path / "search"
    search.mkdir()
    (search / "best.json").write_text(json.dumps({"arch": space.encode(arch)}))
    model = space.build(arch, BuildSpec(num_classes=10, input_size=8, in_channels=1))
    write_policy_json(tmp_path / "policy.json", model, uniform_policy(model, 8), "per_channel")
    return cfg_path, search, tmp_path / "policy.json", space.encode(arch)


def test_final_writes_model_export_and_metrics(setup, tmp_path):
    from eatnas.stages.final import run_final

    cfg_path, search, policy, arch = setup
    m = run_final(cfg_path, search, policy, tmp_path / "final")
    for name in ("model.pt", "quantized.pt", "metrics.json"):
        assert (tmp_path / "final" / name).is_file()
    saved = json.loads((tmp_path / "final" / "metrics.json").read_text())
    assert saved["arch"] == arch and saved["config"]["run"] == "t" and saved["code_version"]
    assert 0.0 <= saved["float_test_accuracy"] <= 100.0 and 0.0 <= saved["quantized_test_accuracy"] <= 100.0
    assert saved["params"] > 0 and saved["macs"] > 0
    # 8-bit weights: about a quarter of the float size, and re-loading keeps accuracy close to float
    assert 0 < saved["size_mb"] < 0.5 * saved["float_size_mb"]
    assert abs(saved["quantized_test_accuracy"] - saved["float_test_accuracy"]) < 10.0
    assert m["average_bits"] == pytest.approx(8.0)
    assert saved["train_images"] < 1797 and saved["test_images"] > 0
    assert not (tmp_path / "final" / "train_state.pt").exists()  # the resume state goes once outputs are written


def test_quant_apply_on_the_final_export_reports_the_final_metrics(setup, tmp_path):
    """The final quantized model is self-describing: `quant apply` rebuilds it from the file and gets the
    accuracy and size that the final stage recorded."""
    from eatnas.quant.stage import run_apply
    from eatnas.stages.final import run_final

    cfg_path, search, policy, _arch = setup
    m = run_final(cfg_path, search, policy, tmp_path / "final")
    applied = run_apply(str(tmp_path / "final" / "quantized.pt"), str(policy), "digits", str(cfg_path))
    assert applied["test_accuracy"] == pytest.approx(m["quantized_test_accuracy"])
    assert applied["size_mb"] == pytest.approx(m["size_mb"])
    assert applied["avg_bits"] == pytest.approx(m["average_bits"])


def test_final_cli_reports_missing_search_in_one_line(setup, tmp_path):
    import subprocess
    import sys

    cfg_path, _search, policy, _arch = setup
    r = subprocess.run([sys.executable, "-m", "eatnas", "final", "--config", str(cfg_path), "--search",
                        str(tmp_path / "nope"), "--policy", str(policy), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "best.json" in r.stderr


def test_final_rejects_policy_of_another_model(setup, tmp_path):
    from eatnas.stages.final import run_final

    cfg_path, search, _policy, _arch = setup
    (tmp_path / "bad.json").write_text(json.dumps({"scheme": "per_channel", "layers": [{"name": "x", "bits": 8}]}))
    with pytest.raises(EatnasError):
        run_final(cfg_path, search, tmp_path / "bad.json", tmp_path / "final")
