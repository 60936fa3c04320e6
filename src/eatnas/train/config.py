"""``TrainConfig``: the ``$defs/train`` section of the config schema as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and loop settings shared by every training run (search candidates, final training).

    SGD with momentum (Nesterov when ``nesterov``) and a per-step cosine schedule from ``lr`` to 0;
    ``weight_decay`` applies to weights only (not to BN parameters or biases); ``grad_clip`` is the
    maximum global gradient norm (``None`` = no clipping); ``channels_last`` memory format on every
    device (about 2x faster depthwise convs on CPU, bench/trainer_overhead.py); ``amp`` (bf16 autocast)
    takes effect on CUDA only.
    """

    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4.0e-5
    label_smoothing: float = 0.1
    grad_clip: float | None = 5.0
    channels_last: bool = True
    amp: bool = True
    eval_batch_size: int = 512
