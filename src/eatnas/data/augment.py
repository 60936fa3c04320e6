"""Batch augmentation on tensors (no per-image Python work): random shift/crop and horizontal flip."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class BatchAugment:
    """Random translation by up to ``pad`` pixels (zero padding, then a random crop) and optional flip.

    Works on a float batch ``[B, C, H, W]`` on any device; randomness comes from ``generator``
    (which must live on the batch's device), so a seeded generator gives reproducible batches.
    """

    pad: int = 0
    flip: bool = False

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.pad > 0:
            x = random_shift(x, self.pad, generator)
        if self.flip:
            mask = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(3), x)
        return x

    @property
    def active(self) -> bool:
        return self.pad > 0 or self.flip


def random_shift(x: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero-pad each image by ``pad`` and crop it back at a random offset (one offset per image)."""
    b, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (2, b), device=x.device, generator=generator)
    rows = offsets[0, :, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = offsets[1, :, None] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def shift_pad(resolution: int, fraction: float) -> int:
    """Padding for a random shift of about ``fraction`` of the image side (at least one pixel)."""
    return max(1, round(resolution * fraction))
