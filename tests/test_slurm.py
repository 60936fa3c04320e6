"""A real single-node SLURM cluster (loopback, 8 fake GPUs) runs the tiny workflow through the slurm profile.

Needs root and either SLURM installed or apt-get (scripts/slurm/setup_slurm.sh installs the packages);
skipped otherwise, or when EATNAS_SKIP_SLURM=1. The daemons it starts are stopped by pid afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
GPU_LINE = re.compile(r"gpu-run: CUDA_VISIBLE_DEVICES='([^']*)' source=(\w+) pid=\d+ start=([\d.]+)")
GPU_RULES = ("search_small", "select_basic", "transfer", "search_large", "search_large_scratch", "search_quant",
             "final")


def _skip_reason() -> str | None:
    if os.environ.get("EATNAS_SKIP_SLURM") == "1":
        return "EATNAS_SKIP_SLURM=1"
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root to start munge/slurmctld/slurmd"
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        return "SLURM is not installed and apt-get is not available to install it"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SLURM_BASE": str(base), "NGPU": "8", "NCPU": "8"}
    r = subprocess.run(["bash", str(REPO / "scripts/slurm/setup_slurm.sh")], env=env, capture_output=True,
                       text=True, timeout=240)
    if r.returncode == 3:
        pytest.skip(f"cannot install SLURM: {r.stderr.strip().splitlines()[-1:]}")
    if r.returncode == 4:
        pytest.skip(f"cannot start a private cluster: {r.stderr.strip().splitlines()[-1]}")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        yield base
    finally:
        subprocess.run(["bash", str(REPO / "scripts/slurm/teardown_slurm.sh")], env=env, capture_output=True,
                       timeout=60)
        pids = (base / "started.pids")
        assert not pids.exists(), "teardown left daemons behind"


def test_workflow_on_slurm_gives_each_gpu_job_its_own_device(cluster, tmp_path):
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    for name in ("config.yaml", "test-tiny.yaml"):
        shutil.copy(REPO / "config" / name, work / "config" / name)
    (work / "config" / "slurm.yaml").write_text("run: slurm\ntransfer: {scratch_baseline: true}\n")
    cmd = [str(SNAKEMAKE), "-s", str(REPO / "workflow/Snakefile"), "--directory", str(work),
           "--configfile", "config/test-tiny.yaml", "config/slurm.yaml",
           "--workflow-profile", str(REPO / "workflow/profiles/slurm"),
           "--default-resources", "slurm_partition=debug", "runtime=10", "mem_mb=1000",
           "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
           "--latency-wait", "5", "--jobs", "8", "--retries", "0"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=work)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = work / "results" / "slurm"
    for rel in ("search_small/best.json", "select/basic.json", "transfer/offspring.json", "search_large/best.json",
                "search_large_scratch/best.json", "quant/policy.json", "final/metrics.json", "final/quantized.pt",
                "report/summary.json", "report/seeded_vs_scratch.png", "report/pareto.png"):
        assert (res / rel).is_file(), rel
    spans = {}
    for rule in GPU_RULES:
        log = res / "logs" / f"{rule}.log"
        m = GPU_LINE.search(log.read_text())
        assert m, f"{log}: no gpu-run line"
        devices, source, start = m.group(1), m.group(2), float(m.group(3))
        assert source == "slurm" and devices, (rule, devices, source)  # granted by SLURM, one per job
        assert len(devices.split(",")) == 1
        spans[rule] = (devices, start, log.stat().st_mtime)
    overlapping = 0
    rules = list(spans)
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            (da, sa, ea), (db, sb, eb) = spans[a], spans[b]
            if sa < eb and sb < ea:  # ran at the same time: SLURM must have given different GPUs
                overlapping += 1
                assert da != db, (a, b, spans[a], spans[b])
    assert overlapping >= 1  # the scratch baseline runs beside the seeded chain
