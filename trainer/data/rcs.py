"""Rare Class Sampling (spec: RCS; DAFormer section 3.3).

Offline statistics give the pixels n_c of each class c over the source set. Class frequency
f_c = n_c / sum(n) over the classes that occur; P(c) = softmax((1 - f_c) / T). A small T favours
rare classes (T = 0.01 in the paper); T = inf samples classes uniformly. A source sample draws c ~ P,
then an image uniformly among those with more than ``min_pixels`` pixels of c (counted at the
original resolution), then re-crops that image until the crop holds more than
``min_pixels * min_crop_ratio`` pixels of c (at most ``max_crop_tries`` re-crops; the last is kept).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from trainer.data.errors import DataError
from trainer.data.stats import FileStats


def class_probabilities(class_pixel_counts: Mapping[int, int], temperature: float) -> dict[int, float]:
    """P(c) = softmax((1 - f_c) / T) over classes with n_c > 0, by ascending class id."""
    if not temperature > 0:
        raise ValueError(f"RCS temperature must be positive or inf, got {temperature}")
    present = {c: n for c, n in sorted(class_pixel_counts.items()) if n > 0}
    if not present:
        raise ValueError("RCS needs at least one class with pixels")
    if math.isinf(temperature):
        return {c: 1.0 / len(present) for c in present}
    counts = np.array(list(present.values()), dtype=np.float64)
    logits = (1.0 - counts / counts.sum()) / temperature
    weights = np.exp(logits - logits.max())
    return dict(zip(present, (weights / weights.sum()).tolist(), strict=True))


def total_class_pixels(stats: Sequence[FileStats]) -> dict[int, int]:
    """n_c summed over the per-image statistics."""
    totals: dict[int, int] = {}
    for _, counts in stats:
        for c, n in counts.items():
            totals[c] = totals.get(c, 0) + n
    return totals


class RareClassSampler:
    """Draws (class, image) pairs and judges whether a crop holds enough of the class."""

    def __init__(self, stats: Sequence[FileStats], files: Sequence[str], temperature: float,
                 min_pixels: int, min_crop_ratio: float, max_crop_tries: int) -> None:
        """``files`` are the dataset's label paths (relative to the root) in dataset order."""
        index = {f: i for i, f in enumerate(files)}
        unknown = [f for f, _ in stats if f not in index]
        if unknown:
            raise DataError(f"class statistics name {len(unknown)} labels not in the dataset (first: "
                            f"{unknown[0]}); re-run `python -m trainer.data.prepare`")
        probs = class_probabilities(total_class_pixels(stats), temperature)
        self.candidates = {c: np.array([index[f] for f, counts in stats if counts.get(c, 0) > min_pixels])
                           for c in probs}
        empty = sorted(c for c, idx in self.candidates.items() if idx.size == 0)
        if empty:
            warnings.warn(f"RCS: classes {empty} have no image with more than {min_pixels} pixels; they are "
                          "never sampled (lower uda.rcs.min_pixels for small images)", stacklevel=2)
        kept = {c: p for c, p in probs.items() if c not in empty}
        if not kept:
            raise DataError(f"RCS: no class has an image with more than {min_pixels} pixels; "
                            "lower uda.rcs.min_pixels")
        self.classes = np.array(list(kept))
        self.probabilities = np.array(list(kept.values())) / sum(kept.values())
        self.min_crop_pixels = min_pixels * min_crop_ratio
        self.max_crop_tries = max_crop_tries if min_crop_ratio > 0 else 0

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """(class c ~ P, dataset index drawn uniformly among c's candidate images)."""
        c = int(rng.choice(self.classes, p=self.probabilities))
        candidates = self.candidates[c]
        return c, int(candidates[rng.integers(len(candidates))])

    def crop_has_class(self, label_crop: np.ndarray, c: int) -> bool:
        return int(np.count_nonzero(label_crop == c)) > self.min_crop_pixels
