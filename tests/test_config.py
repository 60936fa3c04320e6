"""Config loading: defaults, unknown keys, wrong types, bad enums, dataclass mirrors, CLI errors."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from eatnas.cli import main
from eatnas.config import dump_config, from_dict, load_config, schema, to_dict
from eatnas.data import DatasetConfig
from eatnas.errors import ConfigError
from eatnas.train import TrainConfig


def write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_are_filled_in_every_section():
    cfg = load_config()
    assert cfg["seed"] == 0 and cfg["device"] == "auto"
    assert cfg["data"]["small"]["name"] == "digits" and cfg["data"]["large"]["name"] == "fashion_mnist"
    assert cfg["data"]["large"]["val_fraction"] == 0.1 and cfg["data"]["small"]["root"] is None
    assert cfg["train"]["batch_size"] == 128 and cfg["train"]["label_smoothing"] == 0.1
    assert cfg["final"]["train"]["lr"] == cfg["train"]["lr"]


def test_user_values_override_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "train: {lr: 0.2}\ndata: {small: {name: digits, val_fraction: 0.25}}\n"))
    assert cfg["train"]["lr"] == 0.2 and cfg["train"]["momentum"] == 0.9
    assert cfg["data"]["small"]["val_fraction"] == 0.25 and cfg["data"]["small"]["augment"] is True


def test_dotted_overrides():
    cfg = load_config(overrides={"train.batch_size": 32, "data.small.name": "cifar10"})
    assert cfg["train"]["batch_size"] == 32 and cfg["data"]["small"]["name"] == "cifar10"


@pytest.mark.parametrize("text, key", [
    ("trian: {}\n", "trian"),
    ("train: {lrr: 0.1}\n", "train.lrr"),
    ("data: {small: {name: digits, subset: 0.5}}\n", "data.small.subset"),
])
def test_unknown_key_is_named(tmp_path, text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_unknown_key_suggests_the_close_one(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'train'"):
        load_config(write(tmp_path, "trian: {}\n"))


@pytest.mark.parametrize("text, key", [
    ("train: {lr: fast}\n", "train.lr"),
    ("seed: 1.5\n", "seed"),
    ("data: {large: {name: fashion_mnist, augment: maybe}}\n", "data.large.augment"),
])
def test_wrong_type_is_named(tmp_path, text, key):
    with pytest.raises(ConfigError, match=rf"{key.replace('.', '[.]')}.*must be of type"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("text, key", [
    ("device: tpu\n", "device"),
    ("data: {small: {name: mnist}}\n", "data.small.name"),
])
def test_bad_enum_lists_choices(tmp_path, text, key):
    with pytest.raises(ConfigError, match=rf"'{key}'.*choose one of"):
        load_config(write(tmp_path, text))


def test_missing_file_bad_yaml_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "train: [1, 2\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_dataclasses_mirror_the_schema_sections():
    defs = schema()["$defs"]
    assert {f.name for f in dataclasses.fields(TrainConfig)} == set(defs["train"]["properties"])
    assert {f.name for f in dataclasses.fields(DatasetConfig)} == set(defs["dataset"]["properties"])
    for cls, section in ((TrainConfig, "train"), (DatasetConfig, "dataset")):
        for f in dataclasses.fields(cls):
            default = defs[section]["properties"][f.name].get("default", "required")
            if default != "required":
                assert f.default == default, f"{cls.__name__}.{f.name}"


def test_from_dict_builds_and_rejects_unknown_keys():
    cfg = load_config()
    tcfg = from_dict(TrainConfig, cfg["train"], "train")
    assert tcfg == TrainConfig() and to_dict(tcfg)["batch_size"] == 128
    assert from_dict(DatasetConfig, cfg["data"]["large"], "data.large").name == "fashion_mnist"
    with pytest.raises(ConfigError, match=r"train\.lrr.*did you mean 'lr'"):
        from_dict(TrainConfig, {"lrr": 1.0}, "train")


def test_dump_config_round_trips(tmp_path):
    cfg = load_config(overrides={"run": "x1", "train.lr": 0.3})
    dump_config(cfg, tmp_path / "resolved.yaml")
    again = yaml.safe_load((tmp_path / "resolved.yaml").read_text())
    assert load_config(tmp_path / "resolved.yaml") == cfg and again["train"]["lr"] == 0.3


def test_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    bad = write(tmp_path, "train: {lr: fast}\n")
    assert main(["train", "--config", str(bad), "--preset", "tiny", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eatnas: error:") and "train.lr" in err[0]
