"""The Snakemake workflow: DAG, lint, config errors before any job, and (slow) a tiny end-to-end run with
no-op rerun, partial rerun after deleting an intermediate, and resume of a killed search."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
RULES = ("search_small", "select_basic", "transfer", "search_large", "search_quant", "final", "report")


def workdir(tmp_path: Path, extra: dict | None = None) -> Path:
    """A working directory holding config/config.yaml, config/test-tiny.yaml and config/extra.yaml."""
    (tmp_path / "config").mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "test-tiny.yaml"):
        shutil.copy(REPO / "config" / name, tmp_path / "config" / name)
    (tmp_path / "config" / "extra.yaml").write_text(yaml.safe_dump(extra or {}))
    return tmp_path


def smk(work: Path, *args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(REPO / "workflow/Snakefile"), "--directory", str(work),
           "--configfile", "config/test-tiny.yaml", "config/extra.yaml", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout, **kw)


def jobs_in(dry_run_stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    table = dry_run_stdout.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def test_dry_run_lists_every_rule(tmp_path):
    r = smk(workdir(tmp_path), "-n")
    assert r.returncode == 0, r.stderr
    jobs = jobs_in(r.stdout)
    assert set(jobs) == set(RULES) | {"all"}
    r = smk(workdir(tmp_path, {"transfer": {"scratch_baseline": True}}), "-n")
    assert set(jobs_in(r.stdout)) == set(RULES) | {"all", "search_large_scratch"}
    r = smk(workdir(tmp_path), "-n", "search_large_scratch")
    assert jobs_in(r.stdout) == {"search_large_scratch": 1}
    r = smk(workdir(tmp_path), "-n", "search_joint")  # JASQ's joint search: a named target only
    assert jobs_in(r.stdout) == {"search_joint": 1}
    resolved = yaml.safe_load((tmp_path / "results/tiny/config.resolved.yaml").read_text())
    assert resolved["run"] == "tiny" and resolved["final"]["train"]["lr"] == 0.05  # defaults filled


def test_lint_is_clean(tmp_path):
    r = smk(workdir(tmp_path), "--lint")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Lints for" not in r.stdout + r.stderr


@pytest.mark.parametrize("extra, key", [
    ({"serach_small": {"population": 3}}, "'serach_small'; did you mean 'search_small'"),
    ({"search_small": {"population": "three"}}, "'search_small.population' must be of type integer"),
    ({"data": {"large": {"root": "/nonexistent/fmnist"}}}, "'data.large.root' = '/nonexistent/fmnist' does not exist"),
    ({"device": "tpu"}, "'device' is 'tpu'; choose one of"),
])
def test_bad_config_fails_before_any_job(tmp_path, extra, key):
    work = workdir(tmp_path, extra)
    r = smk(work, timeout=120)  # a real run, not a dry run: it must stop while parsing
    assert r.returncode != 0
    assert key in r.stderr, r.stderr
    assert "rule search_small" not in r.stdout + r.stderr
    assert not (work / "results" / "tiny" / "logs").exists()


def _evals(history: Path) -> list[dict]:
    lines = [json.loads(x) for x in history.read_text().splitlines() if x.strip()]
    return [x for x in lines if x.get("event") == "eval"]


def _finished(stdout_stderr: str) -> list[str]:
    return re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", stdout_stderr)


@pytest.mark.slow
def test_end_to_end_rerun_partial_rerun_and_resume(tmp_path):
    work = workdir(tmp_path)
    res = work / "results" / "tiny"
    t0 = time.time()
    r = smk(work)
    assert r.returncode == 0, r.stderr[-4000:]
    first_run_s = time.time() - t0
    outputs = ["search_small/best.json", "select/basic.json", "select/basic.pt", "select/candidates.csv",
               "transfer/offspring.json", "transfer/parent.pt", "search_large/best.json", "quant/policy.json",
               "quant/frontier.csv", "quant/best.json", "final/model.pt", "final/quantized.pt",
               "final/metrics.json", "report/summary.json", "report/summary.md", "report/search_progress.png",
               "report/pareto.png", "report/bits_per_layer.png", "report/architecture.png"]
    for rel in outputs:
        assert (res / rel).is_file(), rel
    for rule in RULES:
        assert (res / "logs" / f"{rule}.log").is_file()
    summary = json.loads((res / "report/summary.json").read_text())
    metrics = json.loads((res / "final/metrics.json").read_text())
    assert summary["arch"] == metrics["arch"] and summary["size_mb"] == metrics["size_mb"]
    assert summary["stages"]["search_small"]["hours"] > 0  # read from the benchmark file
    assert first_run_s < 300

    # a rerun does nothing
    r = smk(work)
    assert r.returncode == 0 and _finished(r.stderr) == [] and "Nothing to be done" in r.stderr + r.stdout

    # deleting one intermediate reruns only what depends on it
    before = (res / "search_large/best.json").stat().st_mtime
    (res / "quant/policy.json").unlink()
    r = smk(work)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(_finished(r.stderr)) == sorted(["search_quant", "final", "report", "all"])
    assert (res / "search_large/best.json").stat().st_mtime == before

    # kill the workflow (SIGKILL to its process group) while search_large runs, then resume it
    evaluations = 8
    extra = {"search_large": {"evaluations": evaluations, "child_epochs": 0.3}}
    (work / "config" / "extra.yaml").write_text(yaml.safe_dump(extra))
    history = res / "search_large" / "history.jsonl"
    digest = res / "search_large" / ".inputs.sha256"
    old_digest = digest.read_text()
    proc = subprocess.Popen([SNAKEMAKE, "-s", str(REPO / "workflow/Snakefile"), "--directory", str(work),
                             "--configfile", "config/test-tiny.yaml", "config/extra.yaml", "--cores", "2"],
                            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            fresh = digest.is_file() and digest.read_text() != old_digest  # the new search has started
            if fresh and history.is_file() and len(_evals(history)) >= 2:
                break
            assert proc.poll() is None, "workflow ended before search_large made progress"
            time.sleep(0.5)
        else:
            pytest.fail("search_large did not record 2 evaluations in time")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(1.0)
    assert (res / "search_large.stale" / "history.jsonl").is_file()  # the old config's search, moved aside
    kept = [e["index"] for e in _evals(history)]
    assert 2 <= len(kept) < evaluations and not (res / "search_large/best.json").exists()
    assert smk(work, "--unlock").returncode == 0
    r = smk(work, "--rerun-incomplete")
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"resume: \S*search_large: resume", (res / "logs/search_large.log").read_text())
    after = [e["index"] for e in _evals(history)]
    assert after[: len(kept)] == kept  # history lines kept, not started over
    assert sorted(set(after)) == list(range(evaluations))
    assert "search_large" in _finished(r.stderr)
    assert "search_small" not in _finished(r.stderr)
