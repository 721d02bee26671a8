"""Tiny on-disk datasets in the real layouts, written by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from trainer_data_fixtures import (
    GTA_LABELS,
    cityscapes_polygons,
    write_gray,
    write_rgb,
    write_synthia_label,
)


@pytest.fixture
def gta_root(tmp_path: Path) -> Path:
    root = tmp_path / "gta"
    for name, ids in GTA_LABELS.items():
        write_rgb(root / "images" / f"{name}.png")
        write_gray(root / "labels" / f"{name}.png", ids)
    return root


@pytest.fixture
def synthia_root(tmp_path: Path) -> Path:
    root = tmp_path / "synthia"
    ids = np.array([[3] * 8] * 3 + [[8] * 8] * 2 + [[0, 13, 16, 11, 1, 1, 1, 1]])
    write_rgb(root / "RGB" / "0000001.png")
    write_synthia_label(root / "GT" / "LABELS" / "0000001.png", ids)
    return root


@pytest.fixture
def cityscapes_root(tmp_path: Path) -> Path:
    """Train: one image with polygons only, one with a ready train-id PNG; val: polygons."""
    root = tmp_path / "cityscapes"
    for split, base in (("train", "aachen_000000_000019"), ("train", "aachen_000001_000019"),
                        ("val", "lindau_000000_000019")):
        city = base.split("_")[0]
        write_rgb(root / "leftImg8bit" / split / city / f"{base}_leftImg8bit.png", 8, 10)
        if base == "aachen_000001_000019":
            label = np.full((8, 10), 8, np.uint8)
            label[0, :] = 255
            write_gray(root / "gtFine" / split / city / f"{base}_gtFine_labelTrainIds.png", label)
        else:
            path = root / "gtFine" / split / city / f"{base}_gtFine_polygons.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cityscapes_polygons()))
    return root
