"""HRDA's "v2" pseudo-label margins: a per-pixel validity mask made by the target pipeline.

Spec: hrda.md, "Data pipelines". Before cropping, the loader builds a mask of the (resized) target
image that is 0 on its top, bottom, left and right margins (HRDA's Cityscapes: 30, 240, 30, 30
pixels of the 2048x1024 frame) and 1 elsewhere; it is cropped and flipped WITH the image, so the
margins only cost weight where a crop touches the image border. The step multiplies the
pseudo-label weight by it. The mask rides along with the label as a second channel, so the crop
and flip code paths (and their random draws) stay those of the image.
"""

from __future__ import annotations

import numpy as np

Margins = tuple[int, int, int, int]
"""(top, bottom, left, right) in pixels."""


def margin_mask(shape: tuple[int, int], margins: Margins) -> np.ndarray:
    """(H, W) uint8 validity mask: 0 on the four margins, 1 elsewhere."""
    if min(margins) < 0:
        raise ValueError(f"pseudo-label margins must be >= 0, got {margins}")
    top, bottom, left, right = margins
    height, width = shape
    valid = np.ones((height, width), dtype=np.uint8)
    valid[: min(top, height), :] = 0
    valid[max(height - bottom, 0) :, :] = 0
    valid[:, : min(left, width)] = 0
    valid[:, max(width - right, 0) :] = 0
    return valid


def attach(label: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """The label with the validity mask as a second channel (H, W, 2), or the label alone."""
    return label if valid is None else np.stack([label, valid], axis=-1)


def detach(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Undo ``attach`` after cropping and flipping: (label (h, w), valid (h, w) or None)."""
    if array.ndim == 2:
        return array, None
    return np.ascontiguousarray(array[..., 0]), np.ascontiguousarray(array[..., 1])


def pad_valid(valid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pad at the bottom/right to ``size`` with 0 (padding is never a trusted pseudo-label), as float32."""
    dh, dw = max(size[0] - valid.shape[0], 0), max(size[1] - valid.shape[1], 0)
    return np.pad(valid, ((0, dh), (0, dw)), constant_values=0).astype(np.float32)
