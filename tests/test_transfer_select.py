"""Basic-architecture selection: reading a search directory, top-k, retraining, outputs and errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from eatnas.config import load_config
from eatnas.errors import EatnasError
from eatnas.space.base import BuildSpec, get_space
from eatnas.train import load_checkpoint
from eatnas.transfer.runs import read_history
from eatnas.transfer.select import select_basic, top_k
from eatnas.utils.io import append_jsonl, write_json_atomic

A = "sep_k3_l1_w1_s0-sep_k3_l1_w1_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0"
B = "mb3_k3_l1_w1_s1-sep_k3_l1_w1_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0"
C = "sep_k5_l1_w1_s0-sep_k3_l1_w1_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0-sep_k3_l1_w0.5_s0"


def _cfg(**overrides):
    base = {"device": "cpu", "threads": 1, "space.head_channels": 16, "data.small": {"name": "digits"},
            "train.batch_size": 64, "train.lr": 0.1, "select.top_k": 2, "select.seeds": 2, "select.epochs": 1}
    base.update(overrides)
    return load_config(None, base)


def _search_dir(root: Path, evals: list[tuple[str, str, float]], space: str = "block") -> Path:
    d = root / "search_small"
    d.mkdir(parents=True)
    append_jsonl(d / "history.jsonl", {"event": "header", "fingerprint": "x", "stage": "search_small"})
    for i, (arch, status, acc) in enumerate(evals):
        append_jsonl(d / "history.jsonl", {"event": "eval", "index": i, "arch": arch, "status": status,
                                           "metrics": {"accuracy": acc} if status == "ok" else {},
                                           "fitness": acc if status == "ok" else None, "elapsed_s": float(i)})
    write_json_atomic(d / "best.json", {"stage": "search_small", "space": space, "best": {"arch": evals[0][0]}})
    return d


def test_history_without_finished_evaluation_is_a_clear_error(tmp_path) -> None:
    d = _search_dir(tmp_path, [(A, "failed", 0.0), (B, "failed", 0.0)])
    with pytest.raises(EatnasError, match=r"history\.jsonl: the history has no finished evaluation"):
        select_basic(_cfg(), d, tmp_path / "select")
    with pytest.raises(EatnasError, match="no search history"):
        select_basic(_cfg(), tmp_path / "nowhere", tmp_path / "select")


def test_torn_last_line_is_tolerated(tmp_path) -> None:
    d = _search_dir(tmp_path, [(A, "ok", 50.0)])
    with open(d / "history.jsonl", "a") as fh:
        fh.write('{"event": "eval", "ind')
    assert [e.arch for e in read_history(d)] == [A]


def test_top_k_distinct_by_fitness(tmp_path) -> None:
    d = _search_dir(tmp_path, [(A, "ok", 40.0), (B, "ok", 60.0), (A, "ok", 70.0), (C, "failed", 0.0), (C, "ok", 50.0)])
    space = get_space("block")
    picked = top_k(space, read_history(d), 2, "h")
    assert [t for _, t, _ in picked] == [A, B] and [f for _, _, f in picked] == [70.0, 60.0]


def test_history_of_another_space_is_rejected(tmp_path) -> None:
    d = _search_dir(tmp_path, [("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|", "ok", 50.0)],
                    space="nb201")
    with pytest.raises(EatnasError, match=r"space 'nb201'.*space\.name='block'"):
        select_basic(_cfg(), d, tmp_path / "select")


def test_select_writes_basic_with_best_mean(tmp_path) -> None:
    torch.set_num_threads(1)
    d = _search_dir(tmp_path, [(A, "ok", 40.0), (B, "ok", 60.0), (C, "ok", 10.0)])
    out = tmp_path / "select"
    summary = select_basic(_cfg(), d, out)
    info = json.loads((out / "basic.json").read_text())
    assert info["space"] == "block" and "code_version" in info and info["config"]["select"]["top_k"] == 2
    cands = info["candidates"]
    assert [c["arch"] for c in cands] == [B, A]              # top-2 by search fitness, C left out
    assert all(len(c["val_accuracy"]) == 2 for c in cands)
    best = max(cands, key=lambda c: c["mean_val_accuracy"])
    assert info["arch"] == best["arch"] == summary["arch"]
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    assert [r["arch"] for r in rows] == [B, A] and rows[0]["val_accuracy_seed1"]
    ckpt = load_checkpoint(out / "basic.pt")
    assert ckpt["arch"] == info["arch"]
    space = get_space("block", head_channels=16)
    model = space.build(space.decode(info["arch"]), BuildSpec(10, 8, 1))
    model.load_state_dict(ckpt["model"])  # the weights match the chosen architecture at the small spec
    assert info["small_spec"] == {"num_classes": 10, "input_size": 8, "in_channels": 1, "dataset": "digits"}


def test_choose_ignores_diverged_seeds_and_fails_when_all_diverged() -> None:
    from eatnas.transfer.select import Candidate, candidates_csv, choose

    a = Candidate(1, None, "a", 50.0, seeds=[1, 2], accuracies=[60.0, None], test_accuracies=[59.0, None])
    b = Candidate(2, None, "b", 40.0, seeds=[1, 2], accuracies=[55.0, 58.0], test_accuracies=[50.0, 51.0])
    assert a.mean_accuracy == 60.0 and choose([a, b]) is a
    tie = Candidate(3, None, "c", 30.0, seeds=[1], accuracies=[60.0], test_accuracies=[None])
    assert choose([tie, a]) is a                     # tie on the mean: the better search rank
    assert "a,50.0000,60.0000,0.0000,60.0000,," in candidates_csv([a, b])
    dead = Candidate(4, None, "d", 10.0, seeds=[1], accuracies=[None], test_accuracies=[None])
    with pytest.raises(EatnasError, match="diverged; lower train.lr"):
        choose([dead])
