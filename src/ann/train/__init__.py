"""The training engine: one loop, checkpoints, distributed data parallel, progress."""

from .config import DataConfig, RunConfig, TrainConfig
from .engine import FitResult, Interrupted, Trainer

__all__ = ["DataConfig", "RunConfig", "TrainConfig", "Trainer", "FitResult", "Interrupted"]
