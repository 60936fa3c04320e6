"""GPU placement: lock-file claims with fake device counts, concurrent processes, SLURM and CPU paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eatnas.errors import EatnasError
from eatnas.stages import gpus


def test_claims_are_disjoint_and_all_or_nothing(tmp_path):
    devices = ["0", "1", "2", "3"]
    a = gpus.try_claim(devices, 2, tmp_path)
    b = gpus.try_claim(devices, 2, tmp_path)
    assert a and b
    assert set(a.devices).isdisjoint(b.devices)
    assert sorted(a.devices + b.devices) == devices
    assert gpus.try_claim(devices, 1, tmp_path) is None
    a.release()
    c = gpus.try_claim(devices, 3, tmp_path)
    assert c is None  # only 2 free: a partial claim must not be kept
    d = gpus.try_claim(devices, 2, tmp_path)
    assert d is not None and sorted(d.devices) == sorted(["0", "1"])
    b.release()
    d.release()


def test_claim_caps_request_and_times_out(tmp_path):
    p = gpus.claim(5, ["0", "1"], tmp_path)
    assert sorted(p.devices) == ["0", "1"]
    with pytest.raises(EatnasError, match="no 1 free GPU"):
        gpus.claim(1, ["0", "1"], tmp_path, timeout_s=0.2, poll_s=0.05)
    p.release()
    assert gpus.claim(0, ["0"], tmp_path).source == "cpu"


def test_place_slurm_uses_granted_devices(tmp_path):
    env = {"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "4,5", "EATNAS_GPU_COUNT": "8"}
    p = gpus.place(2, env=env, lock_dir=tmp_path)
    assert (p.devices, p.source) == (["4", "5"], "slurm")
    assert not list(tmp_path.iterdir())  # no local locks under SLURM


def test_place_cpu_when_no_gpu_or_none_requested(tmp_path):
    assert gpus.place(1, env={"EATNAS_GPU_COUNT": "0"}, lock_dir=tmp_path).visible == ""
    assert gpus.place(0, env={"EATNAS_GPU_COUNT": "8"}, lock_dir=tmp_path).source == "cpu"


def test_detect_devices_respects_visible_devices(monkeypatch):
    assert gpus.detect_devices({"EATNAS_GPU_COUNT": "3"}) == ["0", "1", "2"]
    monkeypatch.setattr(gpus, "_count_gpus", lambda: 8)
    assert gpus.detect_devices({"CUDA_VISIBLE_DEVICES": "2,5"}) == ["2", "5"]
    assert gpus.detect_devices({}) == [str(i) for i in range(8)]
    monkeypatch.setattr(gpus, "_count_gpus", lambda: 0)
    assert gpus.detect_devices({"CUDA_VISIBLE_DEVICES": "0"}) == []
    with pytest.raises(EatnasError, match="EATNAS_GPU_COUNT"):
        gpus.detect_devices({"EATNAS_GPU_COUNT": "x"})


_JOB = (
    "import json, os, sys, time; t0 = time.time(); time.sleep(0.4); "
    "print(json.dumps({'cvd': os.environ['CUDA_VISIBLE_DEVICES'], 't0': t0, 't1': time.time()}))"
)


def _env(tmp_path: Path, count: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "CUDA_VISIBLE_DEVICES"}
    env.update(EATNAS_GPU_COUNT=str(count), EATNAS_GPU_LOCK_DIR=str(tmp_path / "locks"))
    return env


def test_concurrent_processes_get_disjoint_devices(tmp_path):
    env = _env(tmp_path, 3)
    procs = [
        subprocess.Popen([sys.executable, "-m", "eatnas.stages.gpus", "--gpus", "1", "--",
                          sys.executable, "-c", _JOB], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
        for _ in range(7)
    ]
    runs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "gpu-run: CUDA_VISIBLE_DEVICES=" in err
        runs.append(json.loads(out))
    assert {r["cvd"] for r in runs} <= {"0", "1", "2"}
    for i, a in enumerate(runs):
        for b in runs[i + 1:]:
            if a["cvd"] == b["cvd"]:  # same device: the two jobs must not overlap in time
                assert a["t1"] <= b["t0"] or b["t1"] <= a["t0"], (a, b)


def test_two_gpu_jobs_and_cpu_fallback_through_cli(tmp_path):
    env = _env(tmp_path, 4)
    show = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'])"
    out = subprocess.run([sys.executable, "-m", "eatnas", "gpu-run", "--gpus", "2", "--", sys.executable, "-c", show],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert len(out.split(",")) == 2
    env["EATNAS_GPU_COUNT"] = "0"
    out = subprocess.run([sys.executable, "-m", "eatnas.stages.gpus", "--gpus", "1", "--", sys.executable, "-c", show],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert out == ""


def test_lock_released_when_job_is_killed(tmp_path):
    env = _env(tmp_path, 1)
    p = subprocess.Popen([sys.executable, "-m", "eatnas.stages.gpus", "--gpus", "1", "--",
                          sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                         stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "up"
    assert gpus.try_claim(["0"], 1, tmp_path / "locks") is None  # held by the running job
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    deadline = time.time() + 10
    claimed = None
    while claimed is None and time.time() < deadline:
        claimed = gpus.try_claim(["0"], 1, tmp_path / "locks")
        time.sleep(0.05)
    assert claimed is not None and claimed.devices == ["0"]
    claimed.release()


def test_missing_command_is_a_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "eatnas.stages.gpus", "--gpus", "1", "--"],
                       capture_output=True, text=True, env=_env(tmp_path, 1))
    assert r.returncode == 2 and "needs a command" in r.stderr
