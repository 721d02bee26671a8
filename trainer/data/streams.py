"""The training streams and the validation loader a run consumes (CONTRACTS.md: trainer.data).

Each stream is a torch DataLoader over a ``CropDataset`` whose sampler counts global sample
numbers up from the resume point, so the only state to save is the index of the next batch.
Modes (``cfg.uda.mode``): "uda" = source crops (labelled) + target crops (unlabelled);
"source_only" = source crops only; "target_only" = target train crops with labels only.
As the reference's dataset configs: the labelled crops of source-only and target-only runs get
mmseg's PhotoMetricDistortion (``cfg.data.photometric_distortion`` None), and the target-only
(oracle) crop keeps the 0.75 class-ratio rule (``cityscapes_half_512x512.py``); the UDA target
crop has no class-ratio rule (it would read target labels).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import torch
from torch.utils.data import DataLoader, Sampler

from trainer.config import TrainConfig
from trainer.data.datasets import Batch, CropDataset, CropSettings, EvalDataset
from trainer.data.layouts import list_samples
from trainer.data.rcs import RareClassSampler
from trainer.data.stats import read_stats

LABELLED, UNLABELLED = 0, 1
"""Stream ids that enter every sample's seed."""


class _CountFrom(Sampler[int]):
    """Global sample numbers start, start + 1, ... without end."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self) -> Iterator[int]:
        return itertools.count(self.start)


def _worker_init(_: int) -> None:
    """One thread per worker: the parallelism is the workers themselves."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class TrainStream:
    """An endless iterator of batches; ``next_batch`` is the index k of the batch ``next`` returns."""

    def __init__(self, dataset: CropDataset, batch_size: int, num_workers: int, start: int = 0) -> None:
        self.dataset, self.batch_size, self.num_workers = dataset, batch_size, num_workers
        self.next_batch = start
        self._iterator: Iterator[Batch] | None = None

    def _loader(self) -> DataLoader[Batch]:
        workers = self.num_workers
        return DataLoader(
            self.dataset, batch_size=self.batch_size, sampler=_CountFrom(self.next_batch * self.batch_size),
            num_workers=workers, pin_memory=torch.cuda.is_available(), drop_last=True,
            persistent_workers=workers > 0, worker_init_fn=_worker_init if workers > 0 else None,
        )

    def __iter__(self) -> TrainStream:
        return self

    def __next__(self) -> Batch:
        if self._iterator is None:
            self._iterator = iter(self._loader())
        batch = next(self._iterator)
        self.next_batch += 1
        return batch

    def seek(self, batch_index: int) -> None:
        """Continue at batch ``batch_index`` (drops prefetched batches and their workers)."""
        self._iterator = None
        self.next_batch = batch_index


class TrainStreams:
    """``labelled`` and (in "uda" mode) ``unlabelled`` streams, saved and resumed together."""

    def __init__(self, labelled: TrainStream, unlabelled: TrainStream | None) -> None:
        self.labelled, self.unlabelled = labelled, unlabelled

    def state_dict(self) -> dict[str, Any]:
        state = {"labelled": self.labelled.next_batch}
        if self.unlabelled is not None:
            state["unlabelled"] = self.unlabelled.next_batch
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.labelled.seek(int(state["labelled"]))
        if self.unlabelled is not None:
            self.unlabelled.seek(int(state.get("unlabelled", state["labelled"])))


def _source_dataset(cfg: TrainConfig) -> CropDataset:
    data, rcs_cfg = cfg.data, cfg.uda.rcs
    root = Path(data.source.root)
    samples = list_samples(data.source.kind, root)
    rcs = None
    if rcs_cfg.enabled:
        files = [s.label.relative_to(root).as_posix() for s in samples if s.label is not None]
        rcs = RareClassSampler(read_stats(root), files, rcs_cfg.temperature, rcs_cfg.min_pixels,
                               rcs_cfg.min_crop_ratio, rcs_cfg.max_crop_tries)
    settings = CropSettings(data.source.resize, data.crop_size, data.flip_prob, data.cat_max_ratio,
                            photometric=photometric_distortion(cfg))
    return CropDataset(samples, settings, cfg.run.seed, LABELLED, data.batch_size, rcs)


def photometric_distortion(cfg: TrainConfig) -> bool:
    """Whether the labelled stream gets PhotoMetricDistortion: as set, else only without UDA."""
    setting = cfg.data.photometric_distortion
    return cfg.uda.mode != "uda" if setting is None else setting


def _target_dataset(cfg: TrainConfig, stream: int, labels: bool) -> CropDataset:
    data = cfg.data
    samples = list_samples(data.target.kind, Path(data.target.root), "train", labels=labels)
    if labels:  # the oracle: the reference's target-only pipeline
        settings = CropSettings(data.target.resize, data.crop_size, data.flip_prob, data.cat_max_ratio,
                                photometric=photometric_distortion(cfg))
    else:  # the unlabelled target: HRDA's pseudo-label margins travel with the crop
        settings = CropSettings(data.target.resize, data.crop_size, data.flip_prob,
                                pseudo_margins=cfg.uda.pseudo_label.crop_pseudo_margins)
    return CropDataset(samples, settings, cfg.run.seed, stream, data.batch_size)


def build_train_streams(cfg: TrainConfig, start_iteration: int = 0) -> TrainStreams:
    """The streams of ``cfg.uda.mode``, positioned at batch ``start_iteration``."""
    data = cfg.data
    if cfg.uda.mode == "target_only":
        labelled = _target_dataset(cfg, LABELLED, labels=True)
    else:
        labelled = _source_dataset(cfg)
    unlabelled = _target_dataset(cfg, UNLABELLED, labels=False) if cfg.uda.mode == "uda" else None
    def stream(dataset: CropDataset) -> TrainStream:
        return TrainStream(dataset, data.batch_size, data.num_workers, start_iteration)

    return TrainStreams(stream(labelled), None if unlabelled is None else stream(unlabelled))


def build_val_loader(cfg: TrainConfig) -> DataLoader[Batch]:
    """Target val (Cityscapes, ACDC, Dark Zurich): whole images at ``val_resize``, labels, one per batch, in order."""
    data = cfg.data
    samples = list_samples(data.target.kind, Path(data.target.root), "val", labels=True)
    workers = data.num_workers
    return DataLoader(EvalDataset(samples, data.val_resize), batch_size=1, shuffle=False, num_workers=workers,
                      pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0,
                      worker_init_fn=_worker_init if workers > 0 else None)
