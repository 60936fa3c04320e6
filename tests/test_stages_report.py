"""Report stage on a synthetic results folder: figures, summary.json, summary.md, costs from benchmarks."""

from __future__ import annotations

import csv
import json
import random

import pytest
import yaml

from eatnas.config import load_config
from eatnas.errors import EatnasError

CFG = {"run": "r", "space": {"width_multiplier": 0.25, "head_channels": 16},
       "search_small": {"population": 3}, "search_large": {"population": 3}, "select": {"seeds": 2},
       "quant": {"bits": [4, 8, 32]}}


def _history(folder, accs, space, rng):
    folder.mkdir(parents=True)
    lines = [json.dumps({"event": "header", "stage": folder.name})]
    lines += [json.dumps({"event": "eval", "index": i, "arch": space.encode(space.sample(rng)), "status": "ok",
                          "metrics": {"accuracy": a}, "fitness": a, "elapsed_s": 1.0 + i})
              for i, a in enumerate(accs)]
    lines.append(json.dumps({"event": "eval", "arch": "x", "status": "failed", "metrics": {}}))
    (folder / "history.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "best.json").write_text(json.dumps({"best": {"arch": json.loads(lines[1])["arch"]}}))


@pytest.fixture
def results(tmp_path):
    from eatnas.quant.export import write_policy_json
    from eatnas.quant.policy import quantizable_layers
    from eatnas.space.base import BuildSpec
    from eatnas.transfer.context import space_from_config

    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(CFG))
    space = space_from_config(load_config(cfg_path))
    rng = random.Random(0)
    res = tmp_path / "results" / "r"
    _history(res / "search_small", [50, 60, 55, 70, 65], space, rng)
    _history(res / "search_large", [40, 45, 50, 52], space, rng)
    _history(res / "quant", [80, 70, 81, 79], space, rng)
    (res / "select").mkdir()
    (res / "select" / "basic.json").write_text(json.dumps({"candidates": [{}, {}]}))
    (res / "transfer").mkdir()
    (res / "transfer" / "offspring.json").write_text(json.dumps({"offspring": [{}, {}, {}]}))
    arch = space.sample(rng)
    spec = BuildSpec(num_classes=10, input_size=28, in_channels=1)
    model = space.build(arch, spec)
    layers = quantizable_layers(model)
    policy = {name: (4 if i % 2 else 8) for i, name in enumerate(layers)}
    write_policy_json(res / "quant" / "policy.json", model, policy, "per_channel")
    with open(res / "quant" / "frontier.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "label", "accuracy", "size_mb", "avg_bits", "fitness", "pareto", "arch"])
        w.writerow([0, "uniform-4", 70.0, 0.01, 4, 0.7, True, "a"])
        w.writerow([1, "uniform-8", 80.0, 0.02, 8, 0.8, True, "b"])
        w.writerow([2, "searched-best", 81.0, 0.015, 6, 0.81, True, "c"])
        w.writerow([3, "float", 79.0, 0.08, 32, 0.79, False, "d"])
    (res / "final").mkdir()
    (res / "final" / "metrics.json").write_text(json.dumps({
        "arch": space.encode(arch), "space": space.name, "spec": {"num_classes": 10, "input_size": 28, "in_channels": 1},
        "params": 1234, "macs": 56789, "float_test_accuracy": 82.5, "quantized_test_accuracy": 81.0,
        "size_mb": 0.015, "float_size_mb": 0.05, "average_bits": 6.0}))
    (res / "benchmarks").mkdir()
    (res / "benchmarks" / "search_small.tsv").write_text("s\th:m:s\tmax_rss\n360.0\t0:06:00\t512.5\n")
    return cfg_path, res


def test_report_writes_figures_and_summary(results):
    from eatnas.stages.report import run_report

    cfg_path, res = results
    s = run_report(cfg_path, res, res / "report")
    for name in ("search_progress.png", "pareto.png", "bits_per_layer.png", "architecture.png", "summary.md"):
        assert (res / "report" / name).stat().st_size > 1000 or name == "summary.md"
    assert not (res / "report" / "seeded_vs_scratch.png").exists()
    saved = json.loads((res / "report" / "summary.json").read_text())
    assert saved["quantized_test_accuracy"] == 81.0 and saved["params"] == 1234
    assert saved["stages"]["search_small"] == {"evaluations": 5, "hours": pytest.approx(0.1), "max_rss_mb": 512.5,
                                               "code_version": None}  # the synthetic outputs record none
    assert saved["stages"]["select_basic"]["evaluations"] == 4  # 2 candidates x 2 seeds
    assert saved["stages"]["transfer"]["evaluations"] == 3
    assert saved["stages"]["search_large"]["hours"] is None  # not benchmarked
    assert "search_large_scratch" not in saved["stages"] and s["seeded_vs_scratch"] is None
    md = (res / "report" / "summary.md").read_text()
    assert s["arch"] in md and "| search_small | 5 | 0.1000 |" in md
    assert "more than one code version" not in md


def test_report_lists_code_versions_of_a_run_resumed_across_commits(results):
    from eatnas.stages.report import run_report
    from eatnas.version import code_version

    cfg_path, res = results
    for path in ("search_small/best.json", "select/basic.json", "final/metrics.json"):
        data = json.loads((res / path).read_text())
        (res / path).write_text(json.dumps({**data, "code_version": code_version()}))
    s = run_report(cfg_path, res, res / "report")
    assert s["stages"]["select_basic"]["code_version"] == s["stages"]["final"]["code_version"] == code_version()
    assert "more than one code version" not in (res / "report" / "summary.md").read_text()
    final = json.loads((res / "final" / "metrics.json").read_text())
    (res / "final" / "metrics.json").write_text(json.dumps({**final, "code_version": "0.1.0+gold"}))
    run_report(cfg_path, res, res / "report")
    md = (res / "report" / "summary.md").read_text()
    assert "more than one code version" in md and "final `0.1.0+gold`" in md


def test_report_includes_scratch_when_present(results):
    from eatnas.stages.report import run_report
    from eatnas.transfer.context import space_from_config

    cfg_path, res = results
    _history(res / "search_large_scratch", [30, 35, 38, 41], space_from_config(load_config(cfg_path)), random.Random(1))
    s = run_report(cfg_path, res, res / "report")
    assert (res / "report" / "seeded_vs_scratch.png").stat().st_size > 1000
    assert s["seeded_vs_scratch"]["seeded_best"] == 52 and s["seeded_vs_scratch"]["scratch_best"] == 41
    assert s["stages"]["search_large_scratch"]["evaluations"] == 4


def test_report_names_missing_stage_output(results):
    from eatnas.stages.report import run_report

    cfg_path, res = results
    (res / "final" / "metrics.json").unlink()
    with pytest.raises(EatnasError, match="final/metrics.json: missing"):
        run_report(cfg_path, res, res / "report")
