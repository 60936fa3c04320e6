"""Checkpoints: weights, optimiser state, config and architecture in one atomically written file.

Files are read back with ``torch.load(weights_only=True)``: only tensors and plain containers
(dict, list, tuple, str, int, float, bool, None) are stored, so loading never runs pickled code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from eatnas.errors import CheckpointError
from eatnas.utils.io import atomic_write
from eatnas.version import code_version

FORMAT = "eatnas-checkpoint"
VERSION = 1
_PLAIN = (str, int, float, bool, type(None), torch.Tensor)


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, _PLAIN):
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"checkpoint {where}: key {k!r} must be str or int")
            _check_plain(v, f"{where}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(f"checkpoint {where}: {type(value).__name__} is not storable with weights_only loading; "
                    f"convert it to plain str/int/float/bool/None/list/dict/tensors")


def _cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, Mapping):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu(v) for v in value)
    return value


def save_checkpoint(path: str | os.PathLike, model_state: nn.Module | Mapping[str, torch.Tensor],
                    optimizer_state: torch.optim.Optimizer | Mapping[str, Any] | None = None, *,
                    config: Mapping[str, Any] | None = None, arch: str | None = None,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (a kill leaves the old file or the new one, never half of one).

    ``model_state`` / ``optimizer_state`` may be the module / optimiser or their state dicts;
    tensors are stored on the CPU. Raises ``TypeError`` when ``config``/``extra`` hold other types.
    """
    if isinstance(model_state, nn.Module):
        model_state = model_state.state_dict()
    if isinstance(optimizer_state, torch.optim.Optimizer):
        optimizer_state = optimizer_state.state_dict()
    payload = {
        "format": FORMAT, "version": VERSION, "code_version": code_version(), "arch": arch,
        "model": dict(_cpu(dict(model_state))),
        "optimizer": _cpu(dict(optimizer_state)) if optimizer_state is not None else None,
        "config": dict(config) if config is not None else None,
        "extra": dict(extra) if extra is not None else {},
    }
    for key in ("optimizer", "config", "extra"):
        _check_plain(payload[key], key)
    return atomic_write(path, lambda fh: torch.save(payload, fh))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint (``model``, ``optimizer``, ``config``, ``arch``, ``extra``, ``code_version``).

    A missing, truncated or foreign file raises :class:`CheckpointError` naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; check the path or re-run the stage "
                              f"that writes it")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors, ...
        reason = str(exc).strip().splitlines()[0].split(". ")[0] if str(exc).strip() else exc.__class__.__name__
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated or not a checkpoint ({reason[:100]}); "
                              f"delete it and re-run the stage that writes it") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{str(path)!r} is not an eatnas checkpoint; point to a file written by eatnas")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} has format version {payload.get('version')}, this code "
                              f"reads version {VERSION}; re-run the stage that writes it")
    return payload
