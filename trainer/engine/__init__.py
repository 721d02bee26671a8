"""The training engine: loop, checkpoints, and the reporting interface (CONTRACTS.md)."""

from trainer.engine.checkpoint import latest_checkpoint, load_checkpoint
from trainer.engine.loop import resolve_resume, train
from trainer.engine.reporting import CompositeReporter, JsonlReporter, Reporter, read_metrics
from trainer.uda import TrainingDiverged

__all__ = [
    "CompositeReporter",
    "JsonlReporter",
    "Reporter",
    "TrainingDiverged",
    "latest_checkpoint",
    "load_checkpoint",
    "read_metrics",
    "resolve_resume",
    "train",
]
