"""Datasets: splits, proxies, on-disk formats (generated fakes), augmentation, errors, CLI."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from eatnas.cli import main
from eatnas.data import BatchAugment, DatasetConfig, LazySplit, TensorSplit, load_dataset
from eatnas.data.augment import random_shift
from eatnas.data.partition import stratified_split
from eatnas.data.sources import fashion_mnist
from eatnas.errors import DataError
from eatnas.train.batches import steps_per_epoch, train_batches


def _rows(split: TensorSplit) -> set[bytes]:
    return {x.numpy().tobytes() for x in split.images}


# --- digits ----------------------------------------------------------------------------------

def test_digits_sizes_and_fixed_test_split():
    a = load_dataset(DatasetConfig(name="digits"), seed=0)
    b = load_dataset(DatasetConfig(name="digits"), seed=1)
    assert a.sizes()["train"] + a.sizes()["val"] + a.sizes()["test"] == 1797
    assert a.sizes()["test"] == b.sizes()["test"] == 359
    assert torch.equal(a.test.images, b.test.images)  # the test split does not depend on the run seed
    assert not torch.equal(a.val.labels, b.val.labels) or not torch.equal(a.val.images, b.val.images)
    assert (a.num_classes, a.in_channels, a.resolution) == (10, 1, 8)
    assert float(a.train.images.min()) >= 0.0 and float(a.train.images.max()) <= 1.0


def test_validation_comes_from_training_split_stratified_and_seeded():
    s = load_dataset(DatasetConfig(name="digits", val_fraction=0.2), seed=3)
    again = load_dataset(DatasetConfig(name="digits", val_fraction=0.2), seed=3)
    assert torch.equal(s.val.images, again.val.images) and torch.equal(s.train.labels, again.train.labels)
    counts = torch.bincount(s.val.labels, minlength=10).float()
    pool = counts + torch.bincount(s.train.labels, minlength=10).float()
    assert torch.allclose(counts / pool, torch.full((10,), 0.2), atol=0.02)
    assert not (_rows(s.val) & _rows(s.test))  # validation never overlaps the test split


def test_normalised_batches_are_centred():
    s = load_dataset(DatasetConfig(name="digits"), seed=0)
    x, y = s.train.batch(torch.arange(len(s.train)))
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1.0) < 0.05
    assert y.dtype == torch.long and x.dtype == torch.float32


def test_proxy_subsets_classes_fraction_resolution():
    s = load_dataset(DatasetConfig(name="digits", subset_classes=3, subset_fraction=0.5, resolution=16), seed=0)
    assert s.num_classes == 3 and s.class_names == ("0", "1", "2")
    for split in (s.train, s.val, s.test):
        assert int(split.labels.max()) == 2
    assert s.train.images.shape[1:] == (1, 16, 16)
    full = load_dataset(DatasetConfig(name="digits", subset_classes=3), seed=0)
    assert len(s.train) + len(s.val) == pytest.approx((len(full.train) + len(full.val)) / 2, abs=3)
    assert len(s.test) == len(full.test)  # the test split is never subsetted
    with pytest.raises(DataError, match="subset_classes=11"):
        load_dataset(DatasetConfig(name="digits", subset_classes=11), seed=0)


def test_stratified_split_keeps_every_class_on_both_sides():
    labels = np.repeat(np.arange(5), [2, 3, 10, 50, 7])
    keep, held = stratified_split(labels, 0.1, seed=0)
    assert set(labels[keep]) == set(labels[held]) == set(range(5))
    assert len(keep) + len(held) == len(labels) and not set(keep) & set(held)


# --- augmentation ------------------------------------------------------------------------------

def test_random_shift_is_a_crop_of_the_padded_image():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    g = torch.Generator().manual_seed(0)
    y = random_shift(x, 2, g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(2):
        assert any(torch.equal(y[b], padded[b, :, i:i + 6, j:j + 6]) for i in range(5) for j in range(5))
    assert torch.equal(y, random_shift(x, 2, torch.Generator().manual_seed(0)))


def test_flip_and_inactive_augment():
    x = torch.rand(64, 1, 5, 5)
    y = BatchAugment(pad=0, flip=True)(x, torch.Generator().manual_seed(1))
    flipped = [torch.equal(y[i], x[i].flip(2)) for i in range(64)]
    kept = [torch.equal(y[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept)) and 10 < sum(flipped) < 54
    assert not BatchAugment().active


def test_digits_augmentation_shifts_but_never_flips():
    s = load_dataset(DatasetConfig(name="digits"), seed=0)
    assert s.augment == BatchAugment(pad=1, flip=False)
    assert load_dataset(DatasetConfig(name="digits", augment=False), seed=0).augment is None


# --- Fashion-MNIST (IDX) -------------------------------------------------------------------------

def _write_idx(path: Path, arr: np.ndarray) -> None:
    code = {np.uint8: 0x08}[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.tobytes())


def _fake_fashion(root: Path, n_train: int = 60, n_test: int = 20) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))


def test_fashion_from_configured_root(tmp_path):
    _fake_fashion(tmp_path / "fm")
    s = load_dataset(DatasetConfig(name="fashion_mnist", root=str(tmp_path / "fm")), seed=0)
    assert s.sizes() == {"train": 50, "val": 10, "test": 20}
    assert s.train.images.dtype == torch.uint8 and s.train.images.shape[1:] == (1, 28, 28)
    assert s.class_names[0] == "T-shirt/top" and s.augment == BatchAugment(pad=2, flip=True)


def test_fashion_missing_names_paths_and_fixes(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "absent")
    with pytest.raises(DataError) as err:
        load_dataset(DatasetConfig(name="fashion_mnist", root=str(tmp_path / "nothing")), seed=0)
    msg = str(err.value)
    assert str(tmp_path / "absent") in msg and str(tmp_path / "nothing") in msg
    assert "dataset-fashion-mnist" in msg and "download: true" in msg and "root" in msg


def test_truncated_idx_file_is_a_data_error(tmp_path):
    _fake_fashion(tmp_path / "fm")
    path = tmp_path / "fm" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="truncated"):
        load_dataset(DatasetConfig(name="fashion_mnist", root=str(tmp_path / "fm")), seed=0)


@pytest.mark.skipif(not fashion_mnist.SYSTEM_DIR.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_sizes():
    s = load_dataset(DatasetConfig(name="fashion_mnist"), seed=0)
    assert s.sizes() == {"train": 54000, "val": 6000, "test": 10000}
    assert torch.bincount(s.test.labels).tolist() == [1000] * 10


# --- CIFAR (pickled batches) ---------------------------------------------------------------------

def _fake_cifar(root: Path, hundred: bool = False, per_batch: int = 30) -> np.ndarray:
    rng = np.random.default_rng(1)
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    label_key = "fine_labels" if hundred else "labels"
    names = ["train"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    all_images = []
    for name in names + ["test"] if hundred else names + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        if name not in ("test", "test_batch"):
            all_images.append(data)
        batch = {b"data": data, label_key.encode(): [int(i % 10) for i in range(per_batch)]}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh)
    meta_name, key = ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    with open(folder / meta_name, "wb") as fh:
        pickle.dump({key: [f"c{i}" for i in range(100 if hundred else 10)]}, fh)
    return np.concatenate(all_images).reshape(-1, 3, 32, 32)


def test_cifar10_pickled_batches(tmp_path):
    images = _fake_cifar(tmp_path)
    s = load_dataset(DatasetConfig(name="cifar10", root=str(tmp_path), val_fraction=0.2), seed=0)
    assert s.sizes() == {"train": 120, "val": 30, "test": 30}
    assert (s.in_channels, s.resolution, s.class_names[:2]) == (3, 32, ("c0", "c1"))
    assert _rows(s.train) | _rows(s.val) == {im.tobytes() for im in images}
    assert s.augment == BatchAugment(pad=4, flip=True)


def test_cifar100_fine_labels_and_resize(tmp_path):
    _fake_cifar(tmp_path, hundred=True, per_batch=100)
    s = load_dataset(DatasetConfig(name="cifar100", root=str(tmp_path), resolution=16), seed=0)
    assert s.train.images.shape[1:] == (3, 16, 16) and s.train.images.dtype == torch.uint8
    assert len(s.class_names) == 100 and len(s.train) + len(s.val) == 100


def test_cifar_missing_root_names_path(tmp_path):
    with pytest.raises(DataError, match=r"cifar-10-batches-py.*download: true"):
        load_dataset(DatasetConfig(name="cifar10", root=str(tmp_path / "none")), seed=0)


def test_cifar_garbage_batch_is_a_data_error(tmp_path):
    _fake_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_2"):
        load_dataset(DatasetConfig(name="cifar10", root=str(tmp_path)), seed=0)


# --- ImageFolder (lazy) ----------------------------------------------------------------------------

def _fake_imagefolder(root: Path, per_class: int = 6) -> None:
    from PIL import Image

    rng = np.random.default_rng(2)
    for split, n in (("train", per_class), ("val", 2)):
        for cls in ("ant", "bee", "cat"):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
                Image.fromarray(arr).save(root / split / cls / f"{i}.png")


def test_imagefolder_lazy_splits_and_batches(tmp_path):
    _fake_imagefolder(tmp_path)
    cfg = DatasetConfig(name="imagefolder", root=str(tmp_path), resolution=8, val_fraction=0.2, workers=0)
    s = load_dataset(cfg, seed=0)
    assert isinstance(s.train, LazySplit) and not s.in_memory
    assert s.class_names == ("ant", "bee", "cat") and s.sizes() == {"train": 15, "val": 3, "test": 6}
    batches = list(train_batches(s, 4, 5, seed=0, device=torch.device("cpu")))
    assert len(batches) == 5 and steps_per_epoch(s, 4) == 3
    x, y = batches[0]
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32 and int(y.max()) <= 2
    x_val, _ = next(s.val.eval_batches(8, torch.device("cpu")))
    assert x_val.shape == (3, 3, 8, 8)
    two = load_dataset(DatasetConfig(name="imagefolder", root=str(tmp_path), resolution=8, subset_classes=2,
                                     workers=0), seed=0)
    assert two.num_classes == 2 and len(two.test) == 4


def test_imagefolder_without_train_val_is_an_error(tmp_path):
    with pytest.raises(DataError, match="'train/' and 'val/'"):
        load_dataset(DatasetConfig(name="imagefolder", root=str(tmp_path)), seed=0)


# --- bad names, devices, CLI ---------------------------------------------------------------------

def test_unknown_dataset_lists_known_names():
    with pytest.raises(DataError, match=r"unknown dataset 'mnist'.*cifar10.*digits.*fashion_mnist"):
        load_dataset(DatasetConfig(name="mnist"), seed=0)


def test_cpu_device_keeps_tensors_on_cpu():
    s = load_dataset(DatasetConfig(name="digits"), seed=0, device="cpu")
    assert s.train.device.type == "cpu"


@pytest.mark.gpu
def test_on_device_places_tensors_on_cuda():
    s = load_dataset(DatasetConfig(name="digits"), seed=0, device="cuda")
    assert s.train.device.type == "cuda" and s.test.device.type == "cuda"
    off = load_dataset(DatasetConfig(name="digits", on_device=False), seed=0, device="cuda")
    assert off.train.device.type == "cpu"


def test_cli_info_digits(capsys):
    assert main(["data", "info", "digits"]) == 0
    out = capsys.readouterr().out
    assert "train        1295" in out and "val          143" in out and "test         359" in out
    assert "0, 1, 2" in out


def test_cli_info_unknown_dataset_is_one_line(capsys):
    assert main(["data", "info", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown dataset 'nope'" in err[0] and "digits" in err[0]


def test_cli_info_missing_root_is_one_line(tmp_path, capsys):
    assert main(["data", "info", "cifar100", "--root", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path / "x") in err[0]


def test_uint8_normalisation_matches_the_augmented_path():
    images = torch.randint(0, 256, (6, 3, 4, 4), dtype=torch.uint8)
    split = TensorSplit(images, torch.arange(6), (0.5, 0.4, 0.3), (0.2, 0.25, 0.3))
    idx = torch.tensor([4, 1])
    plain, y = split.batch(idx)
    expected = (images[idx].float() / 255 - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) \
        / torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
    assert torch.allclose(plain, expected, atol=1e-5) and y.tolist() == [4, 1]
    assert torch.allclose(split.normalise(split.raw(idx)), expected, atol=1e-5)
