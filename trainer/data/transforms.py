"""The crop pipeline's steps as pure functions of arrays and a numpy Generator (spec: Data pipelines).

They follow mmseg 0.16's semantics, which the reference uses: ``Resize`` with ``keep_ratio``
(mmcv.imrescale: fit inside (long, short) edges, sizes rounded half up, bilinear image /
nearest label with OpenCV), ``RandomCrop`` with ``cat_max_ratio`` (10 re-draws, accepted when the
crop holds more than one class and the largest takes less than the ratio of non-ignored pixels),
``RandomFlip``, ``Normalize`` (ImageNet mean/std on RGB 0..255) and ``Pad`` to the crop size
(image 0 after normalisation, label 255).
"""

from __future__ import annotations

import cv2
import numpy as np

from trainer.data.labels import IGNORE

IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
CAT_MAX_TRIES = 10

Box = tuple[int, int, int, int]
"""(y1, y2, x1, x2) of a crop."""


def rescaled_size(width: int, height: int, scale: tuple[int, int]) -> tuple[int, int]:
    """(w, h) after mmcv.imrescale to ``scale`` = (w, h) keeping the ratio: fit both edges."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(width, height), short_edge / min(width, height))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def resize(
    img: np.ndarray, label: np.ndarray | None, scale: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize image (bilinear) and label (nearest, to the image's new size) keeping the ratio."""
    size = rescaled_size(img.shape[1], img.shape[0], scale)
    if size != (img.shape[1], img.shape[0]):
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
    if label is not None and size != (label.shape[1], label.shape[0]):
        label = cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)
    return img, label


def random_box(shape: tuple[int, ...], crop: tuple[int, int], rng: np.random.Generator) -> Box:
    """A uniformly placed (crop_h, crop_w) window, clipped to the image when it is smaller."""
    margin_h, margin_w = max(shape[0] - crop[0], 0), max(shape[1] - crop[1], 0)
    y, x = int(rng.integers(0, margin_h + 1)), int(rng.integers(0, margin_w + 1))
    return y, y + crop[0], x, x + crop[1]


def crop_accepted(label_crop: np.ndarray, cat_max_ratio: float) -> bool:
    """mmseg's rule: more than one non-ignored class, and the largest below ``cat_max_ratio``."""
    counts = np.bincount(label_crop.ravel(), minlength=256)
    counts = counts[np.arange(counts.size) != IGNORE]
    counts = counts[counts > 0]
    return bool(counts.size > 1 and counts.max() / counts.sum() < cat_max_ratio)


def cat_max_box(
    label: np.ndarray, crop: tuple[int, int], cat_max_ratio: float, rng: np.random.Generator
) -> Box:
    """A crop box where no class dominates: up to 10 checked re-draws, then the last one as is."""
    box = random_box(label.shape, crop, rng)
    if cat_max_ratio >= 1.0:
        return box
    for _ in range(CAT_MAX_TRIES):
        if crop_accepted(apply_box(label, box), cat_max_ratio):
            break
        box = random_box(label.shape, crop, rng)
    return box


def apply_box(array: np.ndarray, box: Box) -> np.ndarray:
    return array[box[0] : box[1], box[2] : box[3]]


def maybe_flip(
    img: np.ndarray, label: np.ndarray | None, prob: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Horizontal flip with probability ``prob`` (one draw, always consumed)."""
    if rng.random() < prob:
        return img[:, ::-1], None if label is None else label[:, ::-1]
    return img, label


def normalize(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 ImageNet-normalised."""
    out = (img.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(out.transpose(2, 0, 1))


def pad_to(img: np.ndarray, label: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pad a normalised (3, h, w) image with 0 and its label with 255 to (H, W) at the bottom/right."""
    dh, dw = max(size[0] - label.shape[0], 0), max(size[1] - label.shape[1], 0)
    if dh == 0 and dw == 0:
        return img, label
    img = np.pad(img, ((0, 0), (0, dh), (0, dw)), constant_values=0.0)
    label = np.pad(label, ((0, dh), (0, dw)), constant_values=IGNORE)
    return img, label
