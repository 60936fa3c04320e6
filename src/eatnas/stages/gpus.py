"""GPU placement for workflow jobs: claim free device ids, set ``CUDA_VISIBLE_DEVICES``, exec the stage.

``snakemake --resources gpu=8`` only caps how many GPUs the running jobs request in total; it does not
say *which* ones. Each job therefore claims device ids itself with one ``fcntl`` lock file per GPU
(``<lock_dir>/gpu<i>.lock``). The locks are held by the open file descriptors, which survive ``exec``:
they live exactly as long as the stage process and the kernel frees them when it exits, even on a crash
or SIGKILL. Under SLURM (``SLURM_JOB_ID`` and ``CUDA_VISIBLE_DEVICES`` set) the granted devices are used
as given; without GPUs the command runs on CPU with ``CUDA_VISIBLE_DEVICES=""``.

Usage: ``python -m eatnas gpu-run --gpus N -- CMD ...`` (or ``python -m eatnas.stages.gpus --gpus N -- CMD``).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from eatnas.errors import EatnasError

DEFAULT_LOCK_DIR = "results/.gpu_locks"
LOCK_DIR_ENV = "EATNAS_GPU_LOCK_DIR"
COUNT_ENV = "EATNAS_GPU_COUNT"  # overrides detection (tests, or hiding GPUs from the workflow)


@dataclass
class Placement:
    """Device ids a job may use; ``fds`` hold the claimed locks open (empty for slurm/cpu placements)."""

    devices: list[str]
    source: str  # "lock" | "slurm" | "cpu"
    fds: list[int] = field(default_factory=list)

    @property
    def visible(self) -> str:
        return ",".join(self.devices)

    def release(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def detect_devices(env: dict[str, str] | None = None) -> list[str]:
    """Device ids this machine offers: ``EATNAS_GPU_COUNT``, else ``CUDA_VISIBLE_DEVICES`` if set,
    else ``nvidia-smi -L``, else torch; ``[]`` when there is no GPU."""
    env = os.environ if env is None else env
    if env.get(COUNT_ENV, "") != "":
        try:
            return [str(i) for i in range(int(env[COUNT_ENV]))]
        except ValueError:
            raise EatnasError(f"{COUNT_ENV}={env[COUNT_ENV]!r} is not an integer; set it to a GPU count or unset it") from None
    count = _count_gpus()
    if "CUDA_VISIBLE_DEVICES" in env:  # the user restricted the devices: claim among those
        given = [d.strip() for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip() and d.strip() != "-1"]
        return given[:count] if count else []
    return [str(i) for i in range(count)]


def _count_gpus() -> int:
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return 0
        return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU ")) if out.returncode == 0 else 0
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def try_claim(devices: Sequence[str], n: int, lock_dir: str | os.PathLike) -> Placement | None:
    """Lock ``n`` of ``devices`` without blocking; all-or-nothing (partial claims are released)."""
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    held: list[tuple[str, int]] = []
    for dev in devices:
        if len(held) == n:
            break
        fd = os.open(lock_dir / f"gpu{dev}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        held.append((dev, fd))
    if len(held) < n:
        for _, fd in held:
            os.close(fd)
        return None
    return Placement([d for d, _ in held], "lock", [fd for _, fd in held])


def claim(n: int, devices: Sequence[str], lock_dir: str | os.PathLike,
          timeout_s: float | None = None, poll_s: float = 0.5) -> Placement:
    """Block until ``n`` devices are free and lock them; ``n`` is capped at ``len(devices)``."""
    n = min(n, len(devices))
    if n <= 0:
        return Placement([], "cpu")
    start = time.monotonic()
    while True:
        placement = try_claim(devices, n, lock_dir)
        if placement is not None:
            return placement
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise EatnasError(f"no {n} free GPU(s) among {list(devices)} after {timeout_s:.0f} s "
                              f"(locks in {lock_dir}); lower --resources gpu or gpus_per_job")
        time.sleep(poll_s)


def place(n: int, env: dict[str, str] | None = None, lock_dir: str | os.PathLike | None = None,
          timeout_s: float | None = None) -> Placement:
    """Decide the devices of one job: SLURM grant, local lock claim, or CPU."""
    env = dict(os.environ if env is None else env)
    if env.get("SLURM_JOB_ID") and env.get("CUDA_VISIBLE_DEVICES") is not None:
        given = [d for d in env["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
        return Placement(given, "slurm") if given else Placement([], "cpu")
    if n <= 0:
        return Placement([], "cpu")
    devices = detect_devices(env)
    lock_dir = lock_dir or env.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR
    return claim(n, devices, lock_dir, timeout_s=timeout_s)


def run(n: int, command: Sequence[str], lock_dir: str | None = None, timeout_s: float | None = None) -> int:
    """Place the job, report the placement on stderr, then ``exec`` ``command`` (keeping the locks)."""
    if not command:
        raise EatnasError("gpu-run needs a command after '--', e.g. gpu-run --gpus 1 -- python -m eatnas search ...")
    if n < 0:
        raise EatnasError(f"--gpus must be >= 0 (got {n})")
    placement = place(n, lock_dir=lock_dir, timeout_s=timeout_s)
    env = dict(os.environ)
    env["CUDA_VISIBLE_DEVICES"] = placement.visible
    env["EATNAS_GPU_SOURCE"] = placement.source
    if n > len(placement.devices) and placement.source == "lock":
        print(f"gpu-run: asked for {n} GPU(s), only {len(placement.devices)} exist; using those", file=sys.stderr)
    print(f"gpu-run: CUDA_VISIBLE_DEVICES={placement.visible!r} source={placement.source} pid={os.getpid()} "
          f"start={time.time():.3f}", file=sys.stderr, flush=True)
    for fd in placement.fds:
        os.set_inheritable(fd, True)
    sys.stdout.flush()
    try:
        os.execvpe(command[0], list(command), env)
    except OSError as exc:
        placement.release()
        raise EatnasError(f"gpu-run: cannot run {command[0]!r}: {exc.strerror}") from None
    return 0  # not reached


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gpus", type=int, required=True, help="GPUs this job needs (0 = CPU)")
    parser.add_argument("--lock-dir", default=None,
                        help=f"where the per-GPU lock files live (default ${LOCK_DIR_ENV} or {DEFAULT_LOCK_DIR})")
    parser.add_argument("--timeout", type=float, default=None, help="give up after this many seconds of waiting")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")


def command_from_args(args: argparse.Namespace) -> int:
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    return run(args.gpus, cmd, lock_dir=args.lock_dir, timeout_s=args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eatnas.stages.gpus", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return command_from_args(args)
    except EatnasError as exc:
        print(f"eatnas: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
