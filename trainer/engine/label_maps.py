"""Predicted label maps written by ``python -m trainer evaluate --save-dir DIR``, one image each:

- ``DIR/color/<name>_color.png``: the Cityscapes colours (a palette PNG of train ids, black for none);
- ``DIR/trainIds/<name>_trainIds.png``: train ids 0..18, what the training code and mmseg use;
- ``DIR/labelIds/<name>_labelIds.png``: Cityscapes label ids (7 road, 8 sidewalk, ..., 33 bicycle),
  the format the official evaluation (``cityscapesscripts``' evalPixelLevelSemanticLabeling) reads:
  it finds a prediction by the ``<city>_<seq>_<frame>`` part of its name, kept here.
Colours and ids come from ``cityscapesscripts.helpers.labels``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = ("_leftImg8bit",)


def _tables() -> tuple[list[int], np.ndarray]:
    from cityscapesscripts.helpers.labels import trainId2label

    palette = [0] * 768
    to_label_id = np.zeros(256, dtype=np.uint8)  # anything else (255, ignore) -> 0 "unlabeled"
    for train_id, label in trainId2label.items():
        if 0 <= train_id < 255:
            palette[3 * train_id: 3 * train_id + 3] = list(label.color)
            to_label_id[train_id] = label.id
    return palette, to_label_id


def prediction_name(image: Path) -> str:
    """``frankfurt_000000_000294_leftImg8bit.png`` -> ``frankfurt_000000_000294``."""
    stem = image.stem
    for suffix in IMAGE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem


class LabelMapWriter:
    """Writes the three PNGs of each prediction (train ids, (H, W) uint8) under ``out_dir``."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.palette, self.to_label_id = _tables()
        for sub in ("color", "trainIds", "labelIds"):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)

    def write(self, name: str, train_ids: np.ndarray) -> None:
        ids = np.asarray(train_ids, dtype=np.uint8)
        colour = Image.fromarray(ids, mode="P")
        colour.putpalette(self.palette)
        colour.save(self.out_dir / "color" / f"{name}_color.png")
        Image.fromarray(ids).save(self.out_dir / "trainIds" / f"{name}_trainIds.png")
        Image.fromarray(self.to_label_id[ids]).save(self.out_dir / "labelIds" / f"{name}_labelIds.png")
