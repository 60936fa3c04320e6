"""Trainer: accuracy on digits, determinism, budgets, optimiser groups, divergence, MACs, progress."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from eatnas.data import DatasetConfig, load_dataset
from eatnas.train import Metrics, TrainConfig, TrainingDiverged, count_macs, count_params, evaluate, train_model
from eatnas.train.batches import steps_per_epoch
from eatnas.train.optim import cosine_factor, make_optimizer
from eatnas.train.refnet import RefNet

FAST = TrainConfig(batch_size=64, lr=0.1)


def _small(seed: int = 0) -> RefNet:
    torch.manual_seed(seed)
    return RefNet(1, 10, widths=(8, 12), depths=(1, 1), expand=2, head=32)


def test_digits_reaches_90_percent_test_accuracy(digits_parent):
    model, metrics = digits_parent
    assert metrics.test_accuracy is not None and metrics.test_accuracy >= 90.0
    assert metrics.accuracy >= 90.0 and metrics.loss < 0.5
    assert metrics.params == count_params(model) and metrics.macs > 0 and metrics.epochs == 6.0
    assert metrics.images_per_s > 0 and metrics.wall_time_s > 0 and math.isfinite(metrics.train_loss)


def test_same_seed_same_result_different_seed_differs(digits_splits):
    runs = []
    for seed in (5, 5, 6):
        model = _small()
        m = train_model(model, digits_splits, steps=8, cfg=FAST, seed=seed)
        runs.append((m.loss, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0] and all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    assert runs[0][0] != runs[2][0]


def test_fractional_epochs_and_steps(digits_splits):
    per_epoch = steps_per_epoch(digits_splits, 64)
    assert per_epoch == len(digits_splits.train) // 64
    m = train_model(_small(), digits_splits, epochs=0.5, cfg=FAST, seed=0)
    assert m.steps == round(0.5 * per_epoch) and m.epochs == pytest.approx(m.steps / per_epoch)
    m = train_model(_small(), digits_splits, epochs=0.01, cfg=FAST, seed=0)
    assert m.steps == 1  # a positive budget trains at least one step
    with pytest.raises(ValueError, match="exactly one"):
        train_model(_small(), digits_splits, epochs=1, steps=3, cfg=FAST)


def test_zero_budget_only_evaluates(digits_splits):
    model = _small()
    before = [p.detach().clone() for p in model.parameters()]
    m = train_model(model, digits_splits, steps=0, cfg=FAST, test=True)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert (m.steps, m.images_per_s) == (0, 0.0) and m.test_accuracy is not None
    assert (m.accuracy, m.loss) == pytest.approx(evaluate(model, digits_splits.val, "cpu"))


def test_evaluate_restores_mode_and_counts_correctly():
    class Fixed(nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.zeros(x.shape[0], dtype=torch.long), 10).float() * 5

    from eatnas.data.splits import TensorSplit

    labels = torch.tensor([0, 0, 0, 1])
    split = TensorSplit(torch.zeros(4, 1, 2, 2), labels, (0.0,), (1.0,))
    model = Fixed().train()
    acc, loss = evaluate(model, split, "cpu", batch_size=3)
    assert acc == 75.0 and model.training
    expected = nn.functional.cross_entropy(model(torch.zeros(4, 1, 2, 2)), labels).item()
    assert loss == pytest.approx(expected)


def test_cosine_schedule():
    assert cosine_factor(0, 100) == 1.0 and cosine_factor(50, 100) == pytest.approx(0.5)
    assert cosine_factor(100, 100) == pytest.approx(0.0)
    assert all(cosine_factor(i, 10) >= cosine_factor(i + 1, 10) for i in range(10))


def test_no_weight_decay_on_bn_and_bias_and_lr_multipliers():
    model = RefNet(1, 10, widths=(8,), depths=(1,), kernels=(3,), strides=(1,))
    opt = make_optimizer(model, TrainConfig(lr=0.1, weight_decay=1e-3), lr_scale=0.5,
                         lr_multipliers={"classifier.weight": 0.1})
    names = {id(p): n for n, p in model.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            name = names[id(p)]
            assert group["weight_decay"] == (1e-3 if p.ndim > 1 else 0.0), name
            assert group["lr"] == pytest.approx(0.05 * (0.1 if name == "classifier.weight" else 1.0)), name
    assert sum(len(g["params"]) for g in opt.param_groups) == len(names)
    assert opt.defaults["nesterov"] is True


def test_nan_loss_raises_training_diverged(digits_splits):
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(64, 10)
            self.scale = nn.Parameter(torch.tensor(float("nan")))

        def forward(self, x):
            return self.lin(x.flatten(1)) * self.scale

    with pytest.raises(TrainingDiverged) as err:
        train_model(Broken(), digits_splits, steps=5, cfg=FAST)
    assert err.value.step == 1 and math.isnan(err.value.loss) and "train.lr" in str(err.value)


def test_grad_clip_bounds_the_update():
    from eatnas.data.splits import DataSplits, TensorSplit

    torch.manual_seed(0)
    x = torch.rand(32, 1, 2, 2) * 1000
    split = TensorSplit(x, torch.arange(32) % 2, (0.0,), (1.0,))
    splits = DataSplits("toy", split, split, None, 2, 1, 2, ("a", "b"))

    def step_size(clip):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        cfg = TrainConfig(batch_size=32, lr=1.0, momentum=0.0, weight_decay=0.0, grad_clip=clip)
        train_model(model, splits, steps=1, cfg=cfg)
        return float((torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm())

    assert step_size(0.5) == pytest.approx(0.5, rel=1e-4) and step_size(None) > 10


def test_count_macs_conv_depthwise_linear():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 5, padding=2, groups=8),
                          nn.Conv2d(8, 4, 1, stride=2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
    expected = 8 * 8 * 8 * 3 * 9 + 8 * 8 * 8 * 1 * 25 + 4 * 4 * 4 * 8 + 64 * 10
    model.train()
    assert count_macs(model, (3, 8, 8)) == expected and model.training
    assert count_params(model) == sum(p.numel() for p in model.parameters())


def test_metrics_to_dict():
    m = Metrics(accuracy=1.0, loss=2.0, test_accuracy=None, wall_time_s=0.1, images_per_s=5.0, params=3, macs=4,
                epochs=0.5)
    d = m.to_dict()
    assert d["accuracy"] == 1.0 and d["test_accuracy"] is None and d["epochs"] == 0.5 and "steps" in d


def test_progress_is_quiet_when_stderr_is_not_a_terminal(digits_splits, capsys):
    train_model(_small(), digits_splits, steps=2, cfg=FAST, progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_lazy_dataset_trains_through_a_dataloader(tmp_path):
    from test_data import _fake_imagefolder

    _fake_imagefolder(tmp_path)
    splits = load_dataset(DatasetConfig(name="imagefolder", root=str(tmp_path), resolution=8, workers=0), seed=0)
    torch.manual_seed(0)
    model = RefNet(3, 3, widths=(8,), depths=(1,), kernels=(3,), strides=(1,), head=16)
    m = train_model(model, splits, steps=3, cfg=TrainConfig(batch_size=4), seed=0, test=True)
    assert m.steps == 3 and m.test_accuracy is not None and math.isfinite(m.loss)


@pytest.mark.gpu
def test_cuda_bf16_channels_last_training():
    splits = load_dataset(DatasetConfig(name="digits"), seed=0, device="cuda")
    model = _small()
    m = train_model(model, splits, epochs=3, cfg=TrainConfig(batch_size=64, lr=0.1, amp=True, channels_last=True),
                    device="cuda", seed=0, test=True)
    assert next(model.parameters()).is_cuda and m.accuracy > 50


def test_resolve_device():
    from eatnas.errors import ConfigError
    from eatnas.utils.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device("cuda")
