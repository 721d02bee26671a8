"""Per-file preparation: raw annotation -> train-id PNG, and that label's class pixel counts.

One function per file, run in a process pool by ``prepare``. A finished train-id PNG is not
rewritten (idempotent, resumable); its counts are read back from it, which equals counting the
raw label since the map is a function of the pixel. Counts are at the original resolution, as
the reference's RCS statistics (spec: RCS).
"""

from __future__ import annotations

import os

import numpy as np

from trainer.data import io
from trainer.data.labels import GTA_TABLE, SYNTHIA_TABLE, check_train_ids, class_pixel_counts, to_train_ids
from trainer.data.layouts import DatasetKind, RawPair

ConvertResult = tuple[str, dict[int, int] | None, str | None]
"""(train-id label path, class counts or None, error message or None)."""


def convert_pair(kind: DatasetKind, pair: RawPair) -> ConvertResult:
    """Make ``pair.train_ids`` if missing and count its classes; errors come back as text naming
    the file at fault: the image when it is unreadable, the annotation otherwise."""
    try:
        size = io.image_size(pair.image)
    except ValueError as err:
        return str(pair.train_ids), None, f"{pair.image}: {err}"
    try:
        if pair.train_ids.is_file():
            label = io.read_label8(pair.train_ids)
            check_train_ids(label)
            _check_size(label, size, pair)
        else:
            label = _make_train_ids(kind, pair, size)
        return str(pair.train_ids), class_pixel_counts(label), None
    except ValueError as err:
        return str(pair.train_ids), None, f"{pair.raw}: {err}"


def _check_size(label: np.ndarray, size: tuple[int, int], pair: RawPair) -> None:
    """A label must cover its image pixel for pixel: the crops of both are cut at the same place."""
    if tuple(label.shape[:2]) != size:
        raise ValueError(
            f"label is {label.shape[1]}x{label.shape[0]} (width x height) but its image {pair.image} "
            f"is {size[1]}x{size[0]}"
        )


def _make_train_ids(kind: DatasetKind, pair: RawPair, size: tuple[int, int]) -> np.ndarray:
    if kind == "gta":
        label = to_train_ids(io.read_label8(pair.raw), GTA_TABLE)
    elif kind == "synthia":
        label = to_train_ids(io.read_synthia_raw(pair.raw), SYNTHIA_TABLE)
    else:
        return _cityscapes_from_polygons(pair, size)
    _check_size(label, size, pair)
    io.write_label_atomic(pair.train_ids, label)
    return label


def _cityscapes_from_polygons(pair: RawPair, size: tuple[int, int]) -> np.ndarray:
    """Rasterise with the official cityscapesScripts, through a temp file, then validate."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    out = pair.train_ids
    tmp = io.temp_path(out)
    try:
        json2labelImg(str(pair.raw), str(tmp), "trainIds")
        label = io.read_label8(tmp)
        check_train_ids(label)
        _check_size(label, size, pair)
        os.replace(tmp, out)
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot rasterise polygons ({err})") from err
    return label
