"""Shipped configs: valid against the schema, complete (so Snakemake's merge over config.yaml is exact)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from eatnas.config import load_config, validate

CONFIG = Path(__file__).resolve().parents[1] / "config"
FULL = ("config.yaml", "fashion.yaml", "paper-cifar10-imagenet.yaml")


def leaves(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        key = f"{prefix}{k}"
        out |= leaves(v, key + ".") if isinstance(v, dict) and v else {key}
    return out


def merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def test_default_config_lists_every_key():
    raw = yaml.safe_load((CONFIG / "config.yaml").read_text())
    resolved = load_config(CONFIG / "config.yaml")
    assert leaves(resolved) == leaves(raw), "keys missing: " + ", ".join(sorted(leaves(resolved) - leaves(raw)))


@pytest.mark.parametrize("name", FULL)
def test_config_means_the_same_alone_and_merged_over_the_default(name):
    """Snakemake merges --configfile over config/config.yaml; the result must equal the file on its own."""
    base = yaml.safe_load((CONFIG / "config.yaml").read_text())
    raw = yaml.safe_load((CONFIG / name).read_text())
    assert validate(merge(base, raw)) == load_config(CONFIG / name)


def test_budgets_grow_from_demo_to_paper():
    demo, fashion, paper = (load_config(CONFIG / n) for n in FULL)
    for section in ("search_small", "search_large"):
        assert demo[section]["evaluations"] < fashion[section]["evaluations"] < paper[section]["evaluations"]
    assert demo["final"]["epochs"] < fashion["final"]["epochs"] < paper["final"]["epochs"]
    assert (demo["data"]["large"]["name"], fashion["data"]["large"]["name"]) == ("fashion_mnist", "fashion_mnist")
    assert (paper["data"]["small"]["name"], paper["data"]["large"]["name"]) == ("cifar10", "imagefolder")
    assert paper["device"] == "cuda" and paper["data"]["large"]["resolution"] == 224
    assert {demo["run"], fashion["run"], paper["run"]} == {"demo", "fashion", "paper-cifar10-imagenet"}


def test_tiny_test_config_merges_over_the_default():
    base = yaml.safe_load((CONFIG / "config.yaml").read_text())
    tiny = yaml.safe_load((CONFIG / "test-tiny.yaml").read_text())
    cfg = validate(merge(base, tiny))
    assert cfg["run"] == "tiny" and cfg["search_small"]["evaluations"] <= 5
    assert cfg["data"]["large"]["subset_fraction"] <= 0.02
