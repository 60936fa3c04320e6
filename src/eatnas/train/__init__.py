"""Training: ``train_model`` / ``evaluate`` -> ``Metrics``, weight inheritance, checkpoints."""

from eatnas.train.checkpoint import load_checkpoint, save_checkpoint
from eatnas.train.config import TrainConfig
from eatnas.train.inherit import InheritReport, inherit_weights
from eatnas.train.macs import count_macs, count_params
from eatnas.train.metrics import Metrics
from eatnas.train.trainer import TrainingDiverged, evaluate, train_model

__all__ = ["InheritReport", "Metrics", "TrainConfig", "TrainingDiverged", "count_macs", "count_params",
           "evaluate", "inherit_weights", "load_checkpoint", "save_checkpoint", "train_model"]
