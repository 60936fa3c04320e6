"""CLI: bench nb201 output, search stage on a table, one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
import yaml

from eatnas.cli import main

TABLE = "/work/shared/benchmarks/nasbench201/cifar10.csv"


def test_bench_json_reports_test_accuracy_of_returned_cells(capsys):
    assert main(["bench", "nb201", "--table", TABLE, "--strategy", "rea", "--queries", "30", "--runs", "6",
                 "--seed", "1", "--noisy", "--processes", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"] == 6 and out["queries"] == 30 and out["noisy"]
    assert 85 < out["test_mean"] <= out["best_test"] and out["regret_mean"] == pytest.approx(out["best_test"] - out["test_mean"])
    assert list(out["anytime_test_mean"]) == ["10", "25"]


def test_search_stage_on_table_writes_best_json(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"space": {"name": "nb201"}, "device": "cpu",
                                   "search_small": {"strategy": "renas", "population": 5, "evaluations": 15,
                                                    "table": TABLE, "fitness": {"objective": "jasq", "cost": "params"},
                                                    "controller": {"embedding": 8, "hidden": 8}}}))
    assert main(["search", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 0
    best = json.loads((tmp_path / "o" / "best.json").read_text())
    assert best["evaluations"] == 15 and len(best["top"]) == 5 and best["space"] == "nb201"
    assert best["fitness_target"] > 0 and best["pareto"] and best["hypervolume"] > 0
    assert best["config"]["search_small"]["evaluations"] == 15 and best["code_version"]
    assert (tmp_path / "o" / "state" / "strategy.npz").is_file()
    # the controller state loads into the next search
    assert main(["search", "--config", str(cfg), "--out", str(tmp_path / "o2"), "--controller",
                 str(tmp_path / "o" / "state" / "strategy.npz")]) == 0


@pytest.mark.parametrize("argv, needle", [
    (["bench", "nb201", "--table", TABLE, "--strategy", "greedy", "--runs", "1"], "unknown strategy 'greedy'"),
    (["bench", "nb201", "--table", TABLE, "--queries", "0", "--runs", "1"], "must be > 0"),
    (["bench", "nb201", "--table", "/nonexistent.csv", "--runs", "1"], "does not exist"),
])
def test_bench_bad_input_is_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


@pytest.mark.parametrize("search, needle", [
    ({"evaluations": 0}, "search_small.evaluations"),
    ({"strategy": "greedy"}, "search_small.strategy"),
])
def test_search_bad_config_is_one_line(tmp_path, capsys, search, needle):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"space": {"name": "nb201"}, "search_small": {"table": TABLE, **search}}))
    assert main(["search", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err


def test_unknown_space_is_one_line(tmp_path, capsys):
    from eatnas.errors import EatnasError
    from eatnas.search.stage import space_from_config

    with pytest.raises(EatnasError, match="unknown search space 'nb999'"):
        space_from_config({"space": {"name": "nb999"}})


def test_offspring_seed_the_large_search(tmp_path):
    from eatnas.config import load_config
    from eatnas.errors import CheckpointError, ConfigError
    from eatnas.search.stage import read_offspring, run_stage
    from eatnas.space.base import get_space

    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "a.pt").write_bytes(b"x")
    arches = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
              "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    off = tmp_path / "offspring.json"
    off.write_text(json.dumps({"space": "nb201", "offspring": [{"arch": arches[0], "checkpoint": "ck/a.pt"},
                                                                {"arch": arches[1], "checkpoint": None}]}))
    init = read_offspring(off, get_space("nb201"))
    assert init[0].checkpoint == str((tmp_path / "ck" / "a.pt").resolve()) and init[1].checkpoint is None
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"space": {"name": "nb201"}, "search_large": {
        "strategy": "rea", "population": 4, "evaluations": 8, "table": TABLE}}))
    best = run_stage(load_config(cfg), "search_large", tmp_path / "o", init=str(off))
    hist = [json.loads(x) for x in (tmp_path / "o" / "history.jsonl").read_text().splitlines()[1:]]
    assert [h["arch"] for h in hist[:2]] == arches and best["evaluations"] == 8
    with pytest.raises(ConfigError, match="search_large_scratch"):
        run_stage(load_config(cfg), "search_large_scratch", tmp_path / "o3", init=str(off))
    off.write_text(json.dumps({"space": "block", "offspring": [{"arch": arches[0]}]}))
    with pytest.raises(ConfigError, match="space 'block'"):
        read_offspring(off, get_space("nb201"))
    off.write_text(json.dumps({"space": "nb201", "offspring": [{"arch": arches[0], "checkpoint": "nope.pt"}]}))
    with pytest.raises(CheckpointError, match="nope.pt"):
        read_offspring(off, get_space("nb201"))
