# Helpers shared by the rules (no rules here): config checks, paths, the GPU-placement prefix, targets.
import copy
import hashlib
import json
import os
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

from eatnas.config import dump_config
from eatnas.config import validate as eatnas_validate
from eatnas.errors import ConfigError
from eatnas.stages.checks import check_data

REPO = Path(workflow.basedir).parent
# `python` in the rules is the interpreter running Snakemake (the venv), unless --use-conda puts the
# env's bin first; envs/eatnas.yaml installs the checkout found through EATNAS_ROOT.
os.environ.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
os.environ.setdefault("EATNAS_ROOT", str(REPO))

def config_source():
    """The config file(s) this run was given, for error messages."""
    files = list(dict.fromkeys(str(f) for f in getattr(workflow, "configfiles", [])))
    return " + ".join(files) if files else "config"


def check_config(cfg):
    """Fail before any job with one line naming the bad key: schema errors, then data paths."""
    try:
        resolved = eatnas_validate(copy.deepcopy(dict(cfg)), source=config_source())
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None
    try:
        check_data(resolved, source=config_source())
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None
    return resolved


def run_dir(cfg):
    return f"results/{cfg['run']}"


def write_resolved_config(cfg, path):
    """Write the validated config once; rewrite only when its content changes (so reruns stay no-ops)."""
    body = yaml.safe_dump(dict(cfg), sort_keys=False)
    target = Path(path)
    if target.exists():
        old = target.read_text().split("\n", 1)
        if len(old) == 2 and old[0].startswith("#") and old[1] == body:
            return
    dump_config(cfg, target)


def gpu_request(cfg):
    """GPUs each heavy job asks for: 0 when the config pins the CPU."""
    return 0 if cfg["device"] == "cpu" else cfg["resources"]["gpus_per_job"]


def search_gpus(cfg, section):
    """GPUs of a search job: one per parallel worker (each worker sees one device), at least gpus_per_job."""
    workers = int(cfg[section]["workers"])
    return 0 if cfg["device"] == "cpu" else max(gpu_request(cfg), workers)


def scratch_enabled(cfg):
    return bool(cfg["transfer"]["scratch_baseline"])


def all_targets():
    """Every stage's declared outputs: deleting any of them reruns its stage and what depends on it
    (Snakemake does not regenerate a missing intermediate that no requested target needs)."""
    stages = ["search_small", "select_basic", "transfer", "search_large", "search_quant", "final", "report"]
    if scratch_enabled(config):
        stages.append("search_large_scratch")
    return [path for name in stages for path in getattr(rules, name).output]


def report_inputs(wildcards):
    """Every stage output the report reads; the scratch baseline only when it is configured."""
    inputs = {
        "config": RESOLVED_CONFIG,
        "search_small": rules.search_small.output.best,
        "select": rules.select_basic.output.basic,
        "transfer": rules.transfer.output.offspring,
        "search_large": rules.search_large.output.best,
        "quant": rules.search_quant.output.policy,
        "final": rules.final.output.metrics,
    }
    if scratch_enabled(config):
        inputs["scratch"] = rules.search_large_scratch.output.best
    return inputs


def scratch_plot_output():
    """The seeded-vs-scratch figure exists only when the baseline runs."""
    if not scratch_enabled(config):
        return {}
    return {
        "scratch_plot": report(
            f"{R}/report/seeded_vs_scratch.png",
            caption="../workflow/report/seeded_vs_scratch.rst",
            category="Search",
        )
    }


# Config sections each stage's results depend on. A rule's `params.key` digests them: Snakemake reruns a
# job when its key changes (params trigger), while the resolved config file itself is `ancient` so that
# editing one section does not rerun every stage.
STAGE_SECTIONS = {
    "search_small": ["seed", "device", "space", "data.small", "train", "search_small"],
    "select_basic": ["seed", "device", "space", "data.small", "train", "select"],
    "transfer": ["seed", "device", "space", "data.large", "train", "transfer"],
    "search_large": ["seed", "device", "space", "data.large", "train", "search_large"],
    "search_large_scratch": ["seed", "device", "space", "data.large", "train", "search_large"],
    "search_quant": ["seed", "device", "space", "data.large", "train", "quant"],
    "search_joint": ["seed", "device", "space", "data.large", "train", "quant"],
    "final": ["seed", "device", "space", "data.large", "quant", "final"],
}


def config_key(cfg, stage):
    """Short digest of the config sections ``stage`` depends on."""
    sections = {}
    for dotted in STAGE_SECTIONS[stage]:
        node = cfg
        for part in dotted.split("."):
            node = node[part]
        sections[dotted] = node
    return hashlib.sha256(json.dumps(sections, sort_keys=True, default=str).encode()).hexdigest()[:16]

