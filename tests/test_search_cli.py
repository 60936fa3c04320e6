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
