"""The synthetic benchmark: deterministic bytes, all 19 classes, the layouts prepare expects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from trainer.data.labels import IGNORE
from trainer.data.synthetic.__main__ import main
from trainer.data.synthetic.styles import SOURCE_STYLE
from trainer.data.synthetic.writer import SOURCE_SCENE, SplitJob, draw


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_prepared(tmp_path: Path) -> None:
    args = ["--images", "4", "--target-images", "3", "--val-images", "2", "--size", "48x96"]
    assert main([str(tmp_path / "a"), *args, "--seed", "5"]) == 0
    assert main([str(tmp_path / "b"), *args, "--seed", "5"]) == 0
    assert main([str(tmp_path / "c"), *args, "--seed", "6"]) == 0
    a, b, c = (_digest(tmp_path / k) for k in "abc")
    assert a == b and a != c
    assert "gta/labels/00003_labelTrainIds.png" in a and "gta/sample_class_stats.json" in a
    assert "cityscapes/gtFine/val/synth/synth_000001_000019_gtFine_labelTrainIds.png" in a
    raw = Image.open(tmp_path / "a" / "gta" / "labels" / "00000.png")
    label_ids = {0, 7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33}
    assert raw.mode == "P" and set(np.unique(np.asarray(raw)).tolist()) <= label_ids


def test_all_classes_occur_with_a_long_tail() -> None:
    job = SplitJob(0, 0, 60, SOURCE_SCENE, SOURCE_STYLE)
    counts = np.zeros(256, np.int64)
    for i in range(job.count):
        _, label = draw(job, i, (64, 128), seed=0)
        counts += np.bincount(label.ravel(), minlength=256)
    assert (counts[:19] > 0).all()
    share = counts[:19] / counts[:19].sum()
    assert share[0] > 0.15 and share[2] > 0.1 and share[10] > 0.05  # road, building, sky dominate
    for rare in (12, 15, 16, 17, 18):  # rider, bus, train, motorcycle, bicycle
        assert share[rare] < 0.02


def test_target_has_hood_and_warped_rows_ignored() -> None:
    from trainer.data.synthetic.styles import TARGET_STYLE
    from trainer.data.synthetic.writer import TARGET_SCENE

    _, label = draw(SplitJob(1, 0, 1, TARGET_SCENE, TARGET_STYLE), 0, (128, 256), seed=0)
    assert (label[0] == IGNORE).all() and (label[-1] == IGNORE).all()
    assert (label[60] != IGNORE).all()
