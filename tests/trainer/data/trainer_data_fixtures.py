"""Writers of tiny PNG fixtures in the real datasets' layouts (shared by the data tests)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image


def write_rgb(path: Path, height: int = 6, width: int = 8, value: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), value, np.uint8)).save(path)


def write_gray(path: Path, label: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(label.astype(np.uint8)).save(path)


def write_synthia_label(path: Path, ids: np.ndarray, instance: int = 7) -> None:
    """16-bit 3-channel PNG; the class id in the last channel as OpenCV orders it (BGR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = np.zeros((*ids.shape, 3), np.uint16)
    raw[..., 1] = instance
    raw[..., 2] = ids
    assert cv2.imwrite(str(path), raw)


GTA_LABELS = {
    "a": np.array([[7] * 8] * 3 + [[26] * 8] * 2 + [[0, 0, 1, 1, 33, 33, 23, 23]]),
    "b": np.array([[23] * 8] * 6),
}
"""Cityscapes label ids: road 7 -> 0, car 26 -> 13, 0/1 -> 255, bicycle 33 -> 18, sky 23 -> 10."""


def cityscapes_polygons(height: int = 8, width: int = 10) -> dict:
    return {"imgHeight": height, "imgWidth": width, "objects": [
        {"label": "sky", "polygon": [[0, 0], [9, 0], [9, 3], [0, 3]]},
        {"label": "road", "polygon": [[0, 4], [9, 4], [9, 7], [0, 7]]},
        {"label": "car", "polygon": [[2, 5], [5, 5], [5, 7], [2, 7]]},
    ]}
