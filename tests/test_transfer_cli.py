"""``eatnas select`` / ``eatnas transfer [run|compare]`` command lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eatnas.cli import build_parser, main
from eatnas.utils.io import append_jsonl, write_json_atomic

ARCH = "sep_k3_l1_w1_s0-sep_k3_l1_w1_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0"


def _search(d: Path, stage: str, accs: list[float], population: int = 3) -> Path:
    d.mkdir(parents=True)
    append_jsonl(d / "history.jsonl", {"event": "header", "stage": stage})
    for i, acc in enumerate(accs):
        append_jsonl(d / "history.jsonl", {"event": "eval", "index": i, "arch": ARCH, "status": "ok",
                                           "metrics": {"accuracy": acc}, "fitness": acc, "elapsed_s": 10.0 * (i + 1)})
    write_json_atomic(d / "best.json", {"stage": stage, "space": "block", "best": {"arch": ARCH},
                                        "config": {"search_large": {"population": population, "removal": "oldest"}}})
    return d


def test_commands_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["select", "--search", "s", "--out", "o"])
    assert args.command == "select"
    args = parser.parse_args(["transfer", "--basic", "b", "--out", "o"])
    assert args.mode == "run"
    args = parser.parse_args(["transfer", "compare", "--seeded", "a", "--scratch", "b", "--out", "o"])
    assert args.mode == "compare"


def test_compare_command_writes_table_and_plot(tmp_path, capsys) -> None:
    seeded = _search(tmp_path / "seeded", "search_large", [70, 72, 74, 75, 76])
    scratch = _search(tmp_path / "scratch", "search_large_scratch", [20, 30, 60, 65, 68])
    transfer = tmp_path / "transfer"
    write_json_atomic(transfer / "offspring.json", {"space": "block", "offspring": [], "wall_time_s": 5.0})
    out = tmp_path / "cmp"
    rc = main(["transfer", "compare", "--seeded", str(seeded), "--scratch", str(scratch), "--out", str(out),
               "--transfer", str(transfer)])
    assert rc == 0
    data = json.loads((out / "compare.json").read_text())
    s = data["summary"]
    assert s["seeded_mean_above_every_evaluation"] and s["seeded_time_offset_s"] == 5.0
    assert s["seeded_final_mean"] == pytest.approx((74 + 75 + 76) / 3)   # population 3, oldest removed
    assert data["curves"]["seeded"][0]["wall_time_s"] == 15.0
    assert (out / "population_quality.png").stat().st_size > 1000
    assert (out / "compare.csv").read_text().startswith("evaluations,seeded_mean,scratch_mean")
    assert '"evaluations": 5' in capsys.readouterr().out


def test_errors_are_one_line_exit_2(tmp_path, capsys) -> None:
    assert main(["transfer", "--out", str(tmp_path)]) == 2
    assert "pass --basic DIR" in capsys.readouterr().err
    assert main(["transfer", "compare", "--seeded", str(tmp_path / "x"), "--scratch", str(tmp_path / "y"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "best.json: missing" in capsys.readouterr().err
    assert main(["select", "--search", str(tmp_path), "--out", str(tmp_path / "o"), "--set", "oops"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_final_training_several_seeds_same_for_both_searches(tmp_path) -> None:
    """Identical final training: run i uses the same seed for every search; accuracies are the run means."""
    from eatnas.config import load_config
    from eatnas.transfer.compare import final_test_accuracies

    a = _search(tmp_path / "a", "search_large", [50.0])
    b = _search(tmp_path / "b", "search_large_scratch", [40.0])
    cfg = load_config(None, {"seed": 0, "device": "cpu", "threads": 1, "space.head_channels": 16,
                             "data.large": {"name": "digits"}, "train.batch_size": 128, "train.lr": 0.1})
    res = final_test_accuracies(cfg, {"seeded": a, "scratch": b}, epochs=0.2, seeds=2)
    one = final_test_accuracies(cfg, {"seeded": a}, epochs=0.2, seeds=1)
    for r in res.values():
        assert len(r["test_accuracies"]) == 2 and len(set(r["run_seeds"])) == 2
        assert r["test_accuracy"] == pytest.approx(sum(r["test_accuracies"]) / 2)
    assert res["seeded"]["run_seeds"] == res["scratch"]["run_seeds"]
    # same architecture, same seeds -> same results; run 0 is the one-seed comparison
    assert res["seeded"]["test_accuracies"] == res["scratch"]["test_accuracies"]
    assert one["seeded"]["test_accuracies"][0] == res["seeded"]["test_accuracies"][0]
