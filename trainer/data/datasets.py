"""Map-style datasets of training crops and validation images (spec: Data pipelines, RCS).

A crop dataset is indexed by the global sample number n of its stream; n = k * batch + slot
is sample ``slot`` of batch k, and every random choice for it comes from a Generator seeded
with (seed, stream, k, slot). So batch k is a pure function of (seed, k): independent of the
number of workers, of their order, and of where a run resumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from trainer.data import io
from trainer.data import transforms as T
from trainer.data.labels import IGNORE
from trainer.data.layouts import Sample
from trainer.data.photometric import PhotoMetricDistortion
from trainer.data.pseudo_margins import attach, detach, margin_mask, pad_valid
from trainer.data.rcs import RareClassSampler

Batch = dict[str, torch.Tensor]
_PHOTOMETRIC = PhotoMetricDistortion()


@dataclass(frozen=True)
class CropSettings:
    """One stream's pipeline: sizes (resize (w, h), crop (h, w)) and the random-crop rules."""

    resize: tuple[int, int]
    crop: tuple[int, int]
    flip_prob: float
    cat_max_ratio: float = 1.0
    photometric: bool = False
    """mmseg's PhotoMetricDistortion after the flip (source-only / target-only pipelines)."""
    pseudo_margins: tuple[int, int, int, int] | None = None


def sample_rng(seed: int, stream: int, n: int, batch_size: int) -> np.random.Generator:
    """The Generator of global sample n: seeded by (seed, stream, batch index k, slot in batch)."""
    k, slot = divmod(n, batch_size)
    return np.random.default_rng([seed, stream, k, slot])


def _read(sample: Sample) -> tuple[np.ndarray, np.ndarray | None]:
    img = io.read_rgb(sample.image)
    return img, None if sample.label is None else io.read_label8(sample.label)


def _to_tensors(img: np.ndarray, label: np.ndarray) -> Batch:
    return {"img": torch.from_numpy(img), "label": torch.from_numpy(label.astype(np.int64))}


class CropDataset(Dataset[Batch]):
    """Random training crops of one domain; sample n is a pure function of (seed, stream, n)."""

    def __init__(self, samples: Sequence[Sample], settings: CropSettings, seed: int, stream: int,
                 batch_size: int, rcs: RareClassSampler | None = None) -> None:
        self.samples, self.settings, self.rcs = list(samples), settings, rcs
        self.seed, self.stream, self.batch_size = seed, stream, batch_size

    def __getitem__(self, n: int) -> Batch:
        rng = sample_rng(self.seed, self.stream, n, self.batch_size)
        if self.rcs is not None:
            cls, index = self.rcs.draw(rng)
        else:
            cls, index = None, int(rng.integers(len(self.samples)))
        img, label = T.resize(*_read(self.samples[index]), self.settings.resize)
        if label is None:
            label = np.full(img.shape[:2], IGNORE, dtype=np.uint8)
        margins = self.settings.pseudo_margins  # HRDA v2: a validity mask cropped/flipped with the image
        valid = None if margins is None else margin_mask(img.shape[:2], margins)
        box = self._crop_box(label, cls, rng)
        img, flipped = T.maybe_flip(
            T.apply_box(img, box), T.apply_box(attach(label, valid), box), self.settings.flip_prob, rng
        )
        assert flipped is not None
        flipped, valid = detach(flipped)
        if self.settings.photometric:
            img = _PHOTOMETRIC(img, rng)
        out_img, out_label = T.pad_to(T.normalize(img), np.ascontiguousarray(flipped), self.settings.crop)
        out = _to_tensors(out_img, out_label)
        if valid is not None:
            out["valid"] = torch.from_numpy(pad_valid(valid, self.settings.crop))
        return out

    def _crop_box(self, label: np.ndarray, cls: int | None, rng: np.random.Generator) -> T.Box:
        """The class-ratio crop; with RCS, re-cropped until it holds enough of the sampled class."""
        s = self.settings
        box = T.cat_max_box(label, s.crop, s.cat_max_ratio, rng)
        if self.rcs is None or cls is None:
            return box
        for _ in range(self.rcs.max_crop_tries):
            if self.rcs.crop_has_class(T.apply_box(label, box), cls):
                break
            box = T.cat_max_box(label, s.crop, s.cat_max_ratio, rng)
        return box


class EvalDataset(Dataset[Batch]):
    """Whole validation images resized (ratio kept) to ``resize``; labels at their ORIGINAL size.

    As in the reference (mmseg's test pipeline) and the official Cityscapes evaluation, the
    prediction is upsampled to the label's full resolution and scored there, not the label
    shrunk to the network's input size.
    """

    def __init__(self, samples: Sequence[Sample], resize: tuple[int, int]) -> None:
        self.samples, self.resize = list(samples), resize

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> Batch:
        img, label = _read(self.samples[i])
        img, _ = T.resize(img, None, self.resize)
        assert label is not None, "validation samples carry labels (list_samples(labels=True))"
        return _to_tensors(T.normalize(img), label)
