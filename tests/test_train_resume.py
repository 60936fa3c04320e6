"""Resumable training: a run killed between epochs continues from its state file to the same weights."""

from __future__ import annotations

import logging

import pytest
import torch

import eatnas.train.trainer as trainer
from eatnas.train import TrainConfig, train_model
from eatnas.train.batches import steps_per_epoch, train_batches
from eatnas.train.refnet import RefNet

FAST = TrainConfig(batch_size=64, lr=0.1)


def _small() -> RefNet:
    torch.manual_seed(0)
    return RefNet(1, 10, widths=(8, 12), depths=(1, 1), expand=2, head=32)


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def test_batches_from_an_epoch_boundary_equal_the_tail_of_a_full_run(digits_splits):
    per_epoch = steps_per_epoch(digits_splits, 64)
    full = list(train_batches(digits_splits, 64, 3 * per_epoch, 7, torch.device("cpu")))
    tail = list(train_batches(digits_splits, 64, 3 * per_epoch, 7, torch.device("cpu"), start_step=2 * per_epoch))
    assert len(tail) == per_epoch
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(full[2 * per_epoch:], tail))
    with pytest.raises(ValueError, match="not an epoch boundary"):
        next(train_batches(digits_splits, 64, 3 * per_epoch, 7, torch.device("cpu"), start_step=per_epoch + 1))


def test_killed_training_resumes_from_the_last_epoch_to_identical_weights(digits_splits, tmp_path, monkeypatch,
                                                                         caplog):
    per_epoch = steps_per_epoch(digits_splits, 64)
    reference = _small()
    ref = train_model(reference, digits_splits, epochs=3, cfg=FAST, seed=3)

    real = trainer.train_batches

    def killed_in_epoch_three(*args, **kwargs):
        for i, batch in enumerate(real(*args, **kwargs)):
            if i == 2 * per_epoch + 1:
                raise KeyboardInterrupt  # the kill arrives one step into the third epoch
            yield batch

    state = tmp_path / "train_state.pt"
    monkeypatch.setattr(trainer, "train_batches", killed_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        train_model(_small(), digits_splits, epochs=3, cfg=FAST, seed=3, resume=state)
    assert state.is_file()
    monkeypatch.setattr(trainer, "train_batches", real)

    resumed = _small()
    with caplog.at_level(logging.INFO, logger="eatnas.train"):
        m = train_model(resumed, digits_splits, epochs=3, cfg=FAST, seed=3, resume=state)
    assert f"resuming training at step {2 * per_epoch}" in caplog.text
    assert "epoch 3/3" in caplog.text and "epoch 1/3" not in caplog.text  # only the third epoch ran again
    assert all(torch.equal(a, b) for a, b in zip(_weights(reference), _weights(resumed)))
    assert (m.accuracy, m.loss, m.train_loss) == (ref.accuracy, ref.loss, pytest.approx(ref.train_loss))


def test_state_of_another_run_is_ignored(digits_splits, tmp_path, caplog):
    state = tmp_path / "train_state.pt"
    train_model(_small(), digits_splits, epochs=2, cfg=FAST, seed=3, resume=state)  # leaves the epoch-1 state
    assert state.is_file()
    fresh, other = _small(), _small()
    train_model(fresh, digits_splits, epochs=2, cfg=FAST, seed=4)
    with caplog.at_level(logging.WARNING, logger="eatnas.train"):
        train_model(other, digits_splits, epochs=2, cfg=FAST, seed=4, resume=state)  # another seed: start afresh
    assert "training state of another run" in caplog.text
    assert all(torch.equal(a, b) for a, b in zip(_weights(fresh), _weights(other)))
    state.write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING, logger="eatnas.train"):
        train_model(_small(), digits_splits, epochs=1, cfg=FAST, seed=4, resume=state)
    assert "unreadable training state" in caplog.text


def test_lazy_dataset_resumes_to_identical_weights(tmp_path, monkeypatch):
    from test_data import _fake_imagefolder

    from eatnas.data import DatasetConfig, load_dataset

    _fake_imagefolder(tmp_path / "data")
    splits = load_dataset(DatasetConfig(name="imagefolder", root=str(tmp_path / "data"), resolution=8, workers=0), 0)
    cfg = TrainConfig(batch_size=4, lr=0.05)
    per_epoch = steps_per_epoch(splits, 4)

    def net() -> RefNet:
        torch.manual_seed(0)
        return RefNet(3, 3, widths=(8,), depths=(1,), kernels=(3,), strides=(1,), head=16)

    reference = net()
    train_model(reference, splits, epochs=2, cfg=cfg, seed=1)
    real = trainer.train_batches

    def killed(*args, **kwargs):
        for i, batch in enumerate(real(*args, **kwargs)):
            if i == per_epoch:
                raise KeyboardInterrupt
            yield batch

    state = tmp_path / "state.pt"
    monkeypatch.setattr(trainer, "train_batches", killed)
    with pytest.raises(KeyboardInterrupt):
        train_model(net(), splits, epochs=2, cfg=cfg, seed=1, resume=state)
    monkeypatch.setattr(trainer, "train_batches", real)
    resumed = net()
    train_model(resumed, splits, epochs=2, cfg=cfg, seed=1, resume=state)
    assert all(torch.equal(a, b) for a, b in zip(_weights(reference), _weights(resumed)))
