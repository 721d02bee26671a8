"""Datasets, crop pipelines and Rare Class Sampling of the trainer (spec: Data pipelines, RCS).

``build_train_streams`` / ``build_val_loader`` are what a run consumes; ``prepare`` (CLI) turns
raw datasets into train-id labels and RCS statistics; ``synthetic`` writes the small benchmark.
"""

from trainer.data.errors import DataError
from trainer.data.streams import TrainStream, TrainStreams, build_train_streams, build_val_loader

__all__ = ["DataError", "TrainStream", "TrainStreams", "build_train_streams", "build_val_loader"]
