"""Device selection and CPU thread settings."""

from __future__ import annotations

import torch

from eatnas.errors import ConfigError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a GPU raises ConfigError."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name!r} but no CUDA device is available; set device: auto or cpu")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"device={name!r} is not a device; choose auto, cpu or cuda")


def set_threads(threads: int) -> None:
    """Limit torch's intra-op CPU threads (one job should not take every core)."""
    if threads < 1:
        raise ConfigError(f"threads={threads} must be at least 1")
    torch.set_num_threads(threads)


def is_cuda(device: torch.device | str) -> bool:
    return torch.device(device).type == "cuda"
