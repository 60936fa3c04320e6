"""GPU smoke check: training throughput of a CIFAR-sized small CNN on CUDA (fp32 vs bf16, channels_last).

Prints plainly "no GPU present" and exits 0 on a machine without CUDA.

    python bench/gpu_smoke.py [--steps 200] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

import torch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no GPU present (torch.cuda.is_available() is False): nothing to measure")
        return 0

    from eatnas.data import BatchAugment
    from eatnas.data.synthetic import random_splits
    from eatnas.train import TrainConfig, evaluate, train_model
    from eatnas.train.refnet import RefNet

    device = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}  torch {torch.__version__}")
    splits = random_splits(20480, 2048, augment=BatchAugment(pad=4, flip=True), device=device)
    torch.manual_seed(0)
    initial = RefNet(3, 10, widths=(32, 64, 96), depths=(2, 2, 2), kernels=(3, 5, 3), strides=(1, 2, 2),
                     stem=32, head=256)
    # warm-up (cuDNN heuristics, allocator)
    train_model(copy.deepcopy(initial), splits, steps=10, cfg=TrainConfig(batch_size=args.batch_size), device=device)
    results = {}
    for amp, channels_last in ((False, False), (False, True), (True, True)):
        cfg = TrainConfig(batch_size=args.batch_size, amp=amp, channels_last=channels_last)
        torch.cuda.synchronize()
        m = train_model(copy.deepcopy(initial), splits, steps=args.steps, cfg=cfg, device=device, seed=0)
        label = f"{'bf16' if amp else 'fp32'} {'channels_last' if channels_last else 'contiguous'}"
        results[label] = m.images_per_s
        print(f"{label:26s} {m.images_per_s:10.0f} images/s  (val loss {m.loss:.3f}, {m.macs / 1e6:.1f} MMACs/img)")
    base = results["fp32 contiguous"]
    for label, value in results.items():
        print(f"ratio {label:26s} / fp32 contiguous = {value / base:.2f}")
    model = copy.deepcopy(initial).to(device)
    start = time.perf_counter()
    evaluate(model, splits.val, device, 1024, amp=True, channels_last=True)
    torch.cuda.synchronize()
    print(f"evaluation: {len(splits.val) / (time.perf_counter() - start):.0f} images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
