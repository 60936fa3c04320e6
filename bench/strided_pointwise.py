"""Strided 1x1 convolutions on this machine: does torch's own kernel crash in channels_last, and what does
the workaround (``eatnas.models.pointwise.StridedPointwiseConv2d``) cost?

1. Runs the training step that crashed (``nn.Conv2d(c_in, 8, 1, stride=2)`` in channels_last, batch 64,
   8x8 inputs) for c_in = 2..8 in child processes, with glibc's heap checks on (``heap_checking_env``),
   and prints which ones died (torch 2.14.1 on an AVX2-only AMD EPYC: c_in 2-6).
2. Times forward + backward of a projection-shortcut-sized layer both ways in contiguous format (where
   torch's kernel is safe) and ours in channels_last, and prints the ratios.

Usage: python bench/strided_pointwise.py [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time

import torch
from torch import nn

from eatnas.models.pointwise import StridedPointwiseConv2d, heap_checking_env

CHILD = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    c_in = int(sys.argv[1])
    conv = torch.nn.Conv2d(c_in, 8, 1, 2, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(64, c_in, 8, 8).contiguous(memory_format=torch.channels_last)
    for _ in range(10):
        conv(x.requires_grad_()).sum().backward()
""")


def crashes(c_in: int) -> bool:
    done = subprocess.run([sys.executable, "-c", CHILD, str(c_in)], capture_output=True, env=heap_checking_env())
    return done.returncode != 0


def step_time(conv: nn.Module, x: torch.Tensor, steps: int) -> float:
    for _ in range(5):
        conv(x).sum().backward()
    start = time.perf_counter()
    for _ in range(steps):
        conv(x).sum().backward()
    return (time.perf_counter() - start) / steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs")
    died = [c for c in range(2, 9) if crashes(c)]
    print(f"nn.Conv2d(c_in, 8, 1, stride=2), channels_last backward: crashed for c_in = {died or 'none'} of 2..8")

    torch.manual_seed(0)
    ref = nn.Conv2d(32, 64, 1, 2, bias=False)
    ours = StridedPointwiseConv2d(32, 64, 2)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(128, 32, 16, 16, requires_grad=True)
    base = step_time(ref, x, args.steps)
    same = step_time(ours, x, args.steps)
    cl = step_time(ours.to(memory_format=torch.channels_last),
                   x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(), args.steps)
    print(f"forward+backward, 32->64 channels, 16x16 -> 8x8, batch 128, {args.steps} steps:")
    print(f"  nn.Conv2d stride 2, contiguous       {base * 1e3:7.3f} ms  (1.00)")
    print(f"  subsample + 1x1 conv, contiguous     {same * 1e3:7.3f} ms  ({same / base:.2f})")
    print(f"  subsample + 1x1 conv, channels_last  {cl * 1e3:7.3f} ms  ({cl / base:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
