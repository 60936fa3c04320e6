"""Pre-flight data checks name the config key and the fix."""

from __future__ import annotations

import pytest

from eatnas.errors import ConfigError
from eatnas.stages.checks import check_data, check_dataset


def test_missing_root_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"'data.large.root' = .*does not exist"):
        check_dataset({"name": "fashion_mnist", "root": str(tmp_path / "nope")}, "data.large", "c.yaml")


def test_root_without_files_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml: config key 'data.small.root'.*cifar10"):
        check_dataset({"name": "cifar10", "root": str(tmp_path)}, "data.small", "c.yaml")


def test_imagefolder_needs_train_and_val(tmp_path):
    with pytest.raises(ConfigError, match="required for dataset 'imagefolder'"):
        check_dataset({"name": "imagefolder", "root": None}, "data.large")
    with pytest.raises(ConfigError, match="no train/ and val/"):
        check_dataset({"name": "imagefolder", "root": str(tmp_path)}, "data.large")
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    check_dataset({"name": "imagefolder", "root": str(tmp_path)}, "data.large")


def test_download_and_bundled_datasets_pass(tmp_path):
    check_dataset({"name": "cifar10", "root": str(tmp_path), "download": True}, "data.small")
    check_data({"data": {"small": {"name": "digits"}, "large": {"name": "digits"}}})
