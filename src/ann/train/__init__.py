"""The training engine: one loop, checkpoints, distributed data parallel, progress."""

from .config import DataConfig, RunConfig, TrainConfig
from .engine import FitResult, Interrupted, Trainer
from .tasks import get_task

__all__ = ["DataConfig", "RunConfig", "TrainConfig", "Trainer", "FitResult", "Interrupted", "get_task"]
