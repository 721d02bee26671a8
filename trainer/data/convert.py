"""Per-file preparation: raw annotation -> train-id PNG, and that label's class pixel counts.

One function per file, run in a process pool by ``prepare``. A finished train-id PNG is not
rewritten (idempotent, resumable); its counts are read back from it, which equals counting the
raw label since the map is a function of the pixel. Counts are at the original resolution, as
the reference's RCS statistics (spec: RCS).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from trainer.data import io
from trainer.data.labels import GTA_TABLE, SYNTHIA_TABLE, check_train_ids, class_pixel_counts, to_train_ids
from trainer.data.layouts import DatasetKind, RawPair

ConvertResult = tuple[str, dict[int, int] | None, str | None]
"""(train-id label path, class counts or None, error message or None)."""


def convert_pair(kind: DatasetKind, pair: RawPair) -> ConvertResult:
    """Make ``pair.train_ids`` if missing and count its classes; errors come back as text."""
    try:
        if pair.train_ids.is_file():
            label = io.read_label8(pair.train_ids)
            check_train_ids(label)
        else:
            io.verify_png(pair.image)
            label = _make_train_ids(kind, pair)
        return str(pair.train_ids), class_pixel_counts(label), None
    except ValueError as err:
        return str(pair.train_ids), None, f"{pair.raw}: {err}"


def _make_train_ids(kind: DatasetKind, pair: RawPair) -> np.ndarray:
    if kind == "gta":
        label = to_train_ids(io.read_label8(pair.raw), GTA_TABLE)
    elif kind == "synthia":
        label = to_train_ids(io.read_synthia_raw(pair.raw), SYNTHIA_TABLE)
    else:
        return _cityscapes_from_polygons(pair.raw, pair.train_ids)
    io.write_label_atomic(pair.train_ids, label)
    return label


def _cityscapes_from_polygons(polygons: Path, out: Path) -> np.ndarray:
    """Rasterise with the official cityscapesScripts, through a temp file, then validate."""
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    tmp = io.temp_path(out)
    try:
        json2labelImg(str(polygons), str(tmp), "trainIds")
        label = io.read_label8(tmp)
        check_train_ids(label)
        os.replace(tmp, out)
    except Exception as err:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot rasterise polygons ({err})") from err
    return label
