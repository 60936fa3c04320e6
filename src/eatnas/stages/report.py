"""Report stage: figures, ``summary.json`` and ``summary.md`` of a finished run, read from each stage's
outputs under ``results/<run>/`` and from the Snakemake ``benchmark:`` files (search cost in hours).

Figures: ``search_progress.png`` (accuracy vs evaluations, one panel per search), ``seeded_vs_scratch.png``
(only when the scratch baseline ran), ``pareto.png`` (bit policies: accuracy vs size, uniform-bit points),
``bits_per_layer.png`` (the final policy) and ``architecture.png`` (drawing of the final architecture).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any, Mapping

from eatnas.config import load_config
from eatnas.errors import EatnasError
from eatnas.stages import plots
from eatnas.transfer.compare import Point, compare_curves, plot_curves, population_curve
from eatnas.transfer.runs import Evaluation
from eatnas.utils.io import read_json_object, read_jsonl, write_json_atomic, write_text_atomic
from eatnas.version import code_version

log = logging.getLogger(__name__)

#: (rule name, folder under results/<run>/, config section of its search settings or None)
STAGES = (
    ("search_small", "search_small", "search_small"),
    ("select_basic", "select", None),
    ("transfer", "transfer", None),
    ("search_large", "search_large", "search_large"),
    ("search_large_scratch", "search_large_scratch", "search_large"),
    ("search_quant", "quant", "quant.search"),
    ("final", "final", None),
)
OPTIONAL = {"search_large_scratch"}
# the file of each stage folder that records the stage's code version
RECORD_FILES = {"select": "basic.json", "transfer": "offspring.json", "final": "metrics.json"}


def read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path, "rerun the stage that writes it",
                            missing=f"run the stage that writes it (snakemake {path}) before the report")


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def read_evaluations(folder: Path) -> list[Evaluation]:
    """Successful evaluations of ``folder/history.jsonl`` in order: architecture searches (``event: eval``)
    and the quant search (no ``event``) alike; headers and failed evaluations are skipped."""
    path = folder / "history.jsonl"
    if not path.is_file():
        raise EatnasError(f"{path}: missing; run the stage that writes it before the report")
    out: list[Evaluation] = []
    for rec in read_jsonl(path):
        if rec.get("event", "eval") != "eval" or rec.get("status") != "ok" or not isinstance(rec.get("arch"), str):
            continue
        metrics = rec.get("metrics") if isinstance(rec.get("metrics"), dict) else {}
        acc = _number(metrics.get("accuracy"))
        if acc is None:
            continue
        fit = _number(rec.get("fitness"))
        out.append(Evaluation(len(out), rec["arch"], acc if fit is None else fit, acc,
                              _number(rec.get("elapsed_s")) or 0.0, rec))
    if not out:
        raise EatnasError(f"{path}: no successful evaluation; rerun the stage that writes it")
    return out


def read_benchmark(path: Path) -> dict[str, float] | None:
    """The first row of a Snakemake benchmark TSV (``s``, ``max_rss``, ``cpu_time``...), or None."""
    if not path.is_file():
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        return None
    out = {}
    for key, value in rows[0].items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def read_frontier(path: Path) -> list[dict[str, Any]]:
    """Rows of the quant search's ``frontier.csv`` with numbers parsed."""
    if not path.is_file():
        raise EatnasError(f"{path}: missing; run the search_quant stage before the report")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["accuracy"], r["size_mb"] = float(r["accuracy"]), float(r["size_mb"])
        r["pareto"] = str(r.get("pareto", "")).strip().lower() in ("true", "1", "yes")
    return rows


def _section(cfg: Mapping[str, Any], dotted: str) -> Mapping[str, Any]:
    node: Any = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def search_curve(cfg: Mapping[str, Any], section: str, evals: list[Evaluation]) -> list[Point]:
    """Population quality over the evaluations, replayed with the stage's population and removal rule."""
    s = _section(cfg, section)
    population = int(s["population"])
    if section == "quant.search":  # the uniform policies all join the initial population
        population = max(population, len(cfg["quant"]["bits"]))
    return population_curve(evals, population, str(s["removal"]))


def stage_evaluations(stage: str, folder: Path, cfg: Mapping[str, Any]) -> int:
    """Candidate evaluations a stage spent (trainings for selection, offspring for transfer)."""
    if stage in ("search_small", "search_large", "search_large_scratch", "search_quant"):
        return len(read_evaluations(folder))
    if stage == "select_basic":
        return len(read_json(folder / "basic.json").get("candidates", [])) * int(cfg["select"]["seeds"])
    if stage == "transfer":
        return len(read_json(folder / "offspring.json").get("offspring", []))
    return 1


def stage_costs(results: Path, cfg: Mapping[str, Any], present: list[str]) -> dict[str, dict[str, Any]]:
    """Evaluations and hours per stage (hours from ``benchmarks/<rule>.tsv``; null when not benchmarked)."""
    costs = {}
    for stage, folder, _ in STAGES:
        if stage not in present:
            continue
        bench = read_benchmark(results / "benchmarks" / f"{stage}.tsv")
        costs[stage] = {
            "evaluations": stage_evaluations(stage, results / folder, cfg),
            "hours": bench["s"] / 3600.0 if bench and "s" in bench else None,
            "max_rss_mb": bench.get("max_rss") if bench else None,
            "code_version": stage_code_version(results / folder),
        }
    return costs


def stage_code_version(folder: Path) -> str | None:
    """The code version a stage recorded in its output (None when it recorded none)."""
    path = folder / RECORD_FILES.get(folder.name, "best.json")
    try:
        value = json.loads(path.read_text()).get("code_version")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def draw_architecture(cfg: Mapping[str, Any], final: Mapping[str, Any], out: Path) -> Path:
    from eatnas.space.base import BuildSpec
    from eatnas.space.draw import draw_arch
    from eatnas.transfer.context import decode_in_space, space_from_config

    space = space_from_config(cfg)
    arch = decode_in_space(space, final["arch"], "final/metrics.json")
    spec = BuildSpec(**final["spec"])
    return Path(draw_arch(space, arch, spec, out, title="final architecture"))


def run_report(config_path: str | Path, results_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write the figures, ``summary.json`` and ``summary.md``; return the summary."""
    cfg = load_config(config_path)
    results, out = Path(results_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = read_json(results / "final" / "metrics.json")
    policy = read_json(results / "quant" / "policy.json")
    present = [s for s, folder, _ in STAGES if s not in OPTIONAL or (results / folder / "best.json").is_file()]

    searches: dict[str, tuple[list[Evaluation], list[Point]]] = {}
    for stage, folder, section in STAGES:
        if section and stage in present:
            evals = read_evaluations(results / folder)
            searches[stage] = (evals, search_curve(cfg, section, evals))
    figures = {"search_progress": plots.plot_search_progress(searches, out / "search_progress.png")}
    comparison = None
    if "search_large_scratch" in searches:
        seeded, scratch = searches["search_large"][1], searches["search_large_scratch"][1]
        figures["seeded_vs_scratch"] = plot_curves({"seeded": [seeded], "scratch": [scratch]},
                                                   out / "seeded_vs_scratch.png",
                                                   "seeded (elastic transfer) vs from scratch")
        table = compare_curves(seeded, scratch)
        comparison = {
            "evaluations": min(len(seeded), len(scratch)),
            "seeded_final_mean": seeded[-1].mean_accuracy, "scratch_final_mean": scratch[-1].mean_accuracy,
            "seeded_best": max(e.accuracy for e in searches["search_large"][0]),
            "scratch_best": max(e.accuracy for e in searches["search_large_scratch"][0]),
            "seeded_mean_above_every_evaluation": table["seeded_mean_above_every_evaluation"],
        }
    figures["pareto"] = plots.plot_pareto(read_frontier(results / "quant" / "frontier.csv"), out / "pareto.png", final)
    figures["bits_per_layer"] = plots.plot_bits(policy["layers"], out / "bits_per_layer.png")
    figures["architecture"] = draw_architecture(cfg, final, out / "architecture.png")

    costs = stage_costs(results, cfg, present)
    hours = [c["hours"] for c in costs.values() if c["hours"] is not None]
    summary = {
        "run": cfg["run"],
        "arch": final["arch"],
        "space": final["space"],
        "params": final["params"],
        "macs": final["macs"],
        "float_test_accuracy": final["float_test_accuracy"],
        "quantized_test_accuracy": final["quantized_test_accuracy"],
        "size_mb": final["size_mb"],
        "float_size_mb": final["float_size_mb"],
        "average_bits": final.get("average_bits"),
        "datasets": {"small": cfg["data"]["small"]["name"], "large": cfg["data"]["large"]["name"]},
        "stages": costs,
        "total_evaluations": sum(c["evaluations"] for c in costs.values()),
        "total_hours": sum(hours) if hours else None,
        "seeded_vs_scratch": comparison,
        "figures": {k: Path(v).name for k, v in figures.items()},
        "config": cfg,
        "code_version": code_version(),
    }
    write_json_atomic(out / "summary.json", summary)
    write_text_atomic(out / "summary.md", summary_markdown(summary))
    log.info("report written to %s", out)
    return summary


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def summary_markdown(s: Mapping[str, Any]) -> str:
    """The summary as a short Markdown page."""
    lines = [
        f"# eatnas run `{s['run']}`",
        "",
        f"{s['datasets']['small']} -> {s['datasets']['large']}, space `{s['space']}`, code `{s['code_version']}`.",
        "",
        f"Final architecture: `{s['arch']}`",
        "",
        "| metric | value |",
        "|---|---|",
        f"| parameters | {s['params']:,} |",
        f"| MACs | {s['macs']:,} |",
        f"| float test accuracy (%) | {_fmt(s['float_test_accuracy'])} |",
        f"| quantized test accuracy (%) | {_fmt(s['quantized_test_accuracy'])} |",
        f"| quantized size (MB) | {_fmt(s['size_mb'], 4)} |",
        f"| float size (MB) | {_fmt(s['float_size_mb'], 4)} |",
        f"| average weight bits | {_fmt(s['average_bits'])} |",
        "",
        "## Search cost",
        "",
        "| stage | evaluations | hours |",
        "|---|---|---|",
    ]
    for stage, c in s["stages"].items():
        lines.append(f"| {stage} | {c['evaluations']} | {_fmt(c['hours'], 4)} |")
    lines.append(f"| **total** | {s['total_evaluations']} | {_fmt(s['total_hours'], 4)} |")
    versions = {stage: c.get("code_version") for stage, c in s["stages"].items() if c.get("code_version")}
    if len(set(versions.values()) | {s["code_version"]}) > 1:  # a run resumed across commits
        lines += ["", "Stages ran on more than one code version: "
                  + ", ".join(f"{stage} `{v}`" for stage, v in versions.items()) + "."]
    cmp_ = s.get("seeded_vs_scratch")
    if cmp_:
        lines += ["", "## Seeded vs scratch (large dataset)", "",
                  f"Final population mean: seeded {_fmt(cmp_['seeded_final_mean'])} %, scratch "
                  f"{_fmt(cmp_['scratch_final_mean'])} %; best: seeded {_fmt(cmp_['seeded_best'])} %, scratch "
                  f"{_fmt(cmp_['scratch_best'])} % over {cmp_['evaluations']} evaluations."]
    lines += ["", "## Figures", ""] + [f"![{k}]({v})" for k, v in s["figures"].items()]
    return "\n".join(lines) + "\n"
