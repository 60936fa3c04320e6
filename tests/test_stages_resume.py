"""Search folders resume on unchanged inputs and are moved aside when the inputs changed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eatnas.errors import EatnasError
from eatnas.stages.resume import prepare


def test_resume_keeps_history_for_same_inputs_and_restarts_on_change(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("seed: 0\n")
    out = tmp_path / "search"
    assert prepare(out, [cfg]) == "fresh"
    (out / "history.jsonl").write_text('{"event": "header"}\n{"event": "eval"}\n')
    assert prepare(out, [cfg]) == "resume"
    assert (out / "history.jsonl").read_text().count("\n") == 2
    cfg.write_text("seed: 1\n")
    assert prepare(out, [cfg]) == "fresh"
    assert not (out / "history.jsonl").exists()
    assert (tmp_path / "search.stale" / "history.jsonl").is_file()
    (out / "history.jsonl").write_text("{}\n")
    assert prepare(out, [cfg], key="a") == "fresh"  # another config key
    assert prepare(out, [cfg], key="a") == "resume"


def test_unmarked_folder_is_moved_aside(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("x: 1\n")
    out = tmp_path / "s"
    out.mkdir()
    (out / "history.jsonl").write_text("{}\n")
    assert prepare(out, [cfg]) == "fresh"
    assert (tmp_path / "s.stale" / "history.jsonl").is_file() and not any(p.name == "history.jsonl" for p in out.iterdir())


def test_missing_input_is_an_error(tmp_path):
    with pytest.raises(EatnasError, match="does not exist"):
        prepare(tmp_path / "s", [tmp_path / "nope.json"])
    r = subprocess.run([sys.executable, "-m", "eatnas.stages.resume", "--out", str(tmp_path / "s"),
                        str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert r.returncode == 2 and "eatnas: error:" in r.stderr
