"""Checkpoints: round trip, weights-only contents, atomic writes, clear errors on damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eatnas.cli import main
from eatnas.errors import CheckpointError
from eatnas.train import load_checkpoint, save_checkpoint
from eatnas.train.refnet import RefNet
from eatnas.version import code_version


def _model_and_optimizer():
    torch.manual_seed(0)
    model = RefNet(1, 10, widths=(8,), depths=(1,), kernels=(3,), strides=(1,), head=16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 1, 8, 8)).sum().backward()
    opt.step()
    return model, opt


def test_round_trip(tmp_path):
    model, opt = _model_and_optimizer()
    cfg = {"train": {"lr": 0.1, "grad_clip": None}, "bits": [2, 4], "name": "x"}
    path = save_checkpoint(tmp_path / "sub" / "c.pt", model, opt, config=cfg, arch="k3-w1", extra={"acc": 97.5})
    ck = load_checkpoint(path)
    assert ck["arch"] == "k3-w1" and ck["config"] == cfg and ck["extra"] == {"acc": 97.5}
    assert ck["code_version"] == code_version() and ck["version"] == 1
    twin = RefNet(1, 10, widths=(8,), depths=(1,), kernels=(3,), strides=(1,), head=16)
    twin.load_state_dict(ck["model"])
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(twin.eval()(x), model.eval()(x))
    opt2 = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(ck["optimizer"])
    assert len(opt2.state_dict()["state"]) == len(opt.state_dict()["state"])


def test_state_dicts_are_accepted_and_no_temp_files_remain(tmp_path):
    model, _ = _model_and_optimizer()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model_state=model.state_dict())
    save_checkpoint(path, model_state=model.state_dict(), arch="again")  # overwrite in place
    assert load_checkpoint(path)["arch"] == "again" and load_checkpoint(path)["optimizer"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_non_plain_config_is_rejected(tmp_path):
    model, _ = _model_and_optimizer()
    with pytest.raises(TypeError, match=r"config\.where.*PosixPath"):
        save_checkpoint(tmp_path / "c.pt", model, config={"where": Path("/tmp")})
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_file_raises_checkpoint_error_naming_the_path(tmp_path, damage):
    model, _ = _model_and_optimizer()
    path = save_checkpoint(tmp_path / "c.pt", model)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00garbage" * 50, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=str(path)) as err:
        load_checkpoint(path)
    assert "\n" not in str(err.value) and "re-run" in str(err.value)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an eatnas checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_unsafe_pickle_is_refused(tmp_path):
    torch.save({"format": "eatnas-checkpoint", "obj": Path("/x")}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(tmp_path / "evil.pt")


def test_cli_truncated_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert main(["train", "--preset", "tiny", "--steps", "0", "--init", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[-1] and "truncated" in err[-1]
