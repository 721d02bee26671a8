"""Reading images and label PNGs, and writing label PNGs atomically.

Images are decoded with OpenCV (as mmcv does in the reference pipelines) and returned as RGB.
8-bit labels are read with PIL so palette PNGs (GTA5) give their indices, not colours.
SYNTHIA's 16-bit RGB labels need OpenCV: PIL reduces them to 8 bits.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

TMP_SUFFIX = ".tmp.png"


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB image; ValueError when the file cannot be decoded."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def verify_png(path: Path) -> None:
    """Check the PNG's structure and checksums without decoding pixels (catches truncation)."""
    try:
        with Image.open(path) as img:
            img.verify()
    except Exception as err:  # PIL raises several types for corrupt files
        raise ValueError(f"unreadable or truncated PNG ({err})") from err


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image from its header, after ``verify_png``'s checks (no decoding)."""
    verify_png(path)
    with Image.open(path) as img:
        width, height = img.size
    return height, width


def read_label8(path: Path) -> np.ndarray:
    """(H, W) uint8 label: palette indices or grey values; ValueError on a bad file or bit depth."""
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "P"):
                raise ValueError(f"expected an 8-bit single-channel or palette PNG, got mode {img.mode}")
            return np.asarray(img, dtype=np.uint8).copy()
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"unreadable or truncated PNG ({err})") from err


def read_synthia_raw(path: Path) -> np.ndarray:
    """(H, W) class ids of a SYNTHIA 16-bit label: the last channel as OpenCV orders it.

    This is the reference's ``cv2.imread(file, IMREAD_UNCHANGED)[:, :, -1]`` (the red channel of
    the file, which SYNTHIA documents as holding the class).
    """
    verify_png(path)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError("unreadable PNG")
    if raw.dtype != np.uint16:
        raise ValueError(f"expected a 16-bit PNG, got {raw.dtype.itemsize * 8}-bit")
    return raw[:, :, -1] if raw.ndim == 3 else raw


def temp_path(path: Path) -> Path:
    """A hidden sibling of ``path`` for an atomic write; readers skip names starting with '.'."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def write_label_atomic(path: Path, label: np.ndarray) -> None:
    """Write an (H, W) uint8 label PNG through a temp file and ``os.replace`` (never half-written)."""
    tmp = temp_path(path)
    Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8)).save(tmp, format="PNG")
    os.replace(tmp, path)
