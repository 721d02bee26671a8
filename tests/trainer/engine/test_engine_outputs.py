"""What `python -m trainer` leaves for people to read: a run's curve figures and TensorBoard events,
and `evaluate --save-dir`'s label maps (colours, trainIds, labelIds) and confusion matrix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.cli import main
from trainer.data.prepare import prepare
from trainer.data.synthetic.writer import write_dataset


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-iteration UDA run through the CLI on a tiny synthetic benchmark: (its config, its folder)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("outputs")
    data = root / "data"
    write_dataset(data, (8, 6, 3), (64, 96), seed=0)
    prepare("gta", data / "gta", 1)
    prepare("cityscapes", data / "cityscapes", 1)
    out = root / "run"
    config = {
        "model": {"encoder": "mit_b0", "decoder_channels": 32, "pretrained": None},
        "data": {"source": {"kind": "gta", "root": str(data / "gta"), "resize": [96, 64]},
                 "target": {"kind": "cityscapes", "root": str(data / "cityscapes"), "resize": [96, 64]},
                 "val_resize": [96, 64], "crop_size": [64, 64], "num_workers": 0},
        "uda": {"pseudo_label": {"threshold": 0.06, "crop_top": 2, "crop_bottom": 8},
                "rcs": {"min_pixels": 10}, "fd": {"classes": "all"}},
        "optim": {"warmup_iters": 2},
        "run": {"iterations": 4, "eval_interval": 2, "checkpoint_interval": 2, "log_interval": 1,
                "keep_checkpoints": 1, "output_dir": str(out), "device": "cpu"},
    }
    path = root / "run.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    assert main(["train", "--config", str(path), "--no-progress"]) == 0
    return path, out


@pytest.mark.slow
def test_a_run_writes_figures_and_tensorboard_events(run: tuple[Path, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, out = run
    figures = {p.name: Image.open(p).size for p in (out / "figures").glob("*.png")}
    assert set(figures) == {"miou.png", "per_class_iou.png", "losses.png", "lr.png", "pseudo_label_confidence.png"}
    width, height = figures["per_class_iou.png"]
    assert width <= 1700 and height > width / 2  # 19 classes as a 5-column grid, not one row
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"val/mIoU", "val/iou/traffic_light", "train/lr", "train/src_ce", "train/pseudo_confidence"} <= set(scalars)
    summary = json.loads((out / "summary.json").read_text())
    assert [(e.step, round(e.value, 4)) for e in events.Scalars("val/mIoU")][-1] == (
        4, round(summary["final_miou"], 4))
    assert [e.step for e in events.Scalars("train/lr")] == [1, 2, 3, 4]


@pytest.mark.slow
def test_evaluate_saves_label_maps_and_the_confusion_matrix(run: tuple[Path, Path], tmp_path: Path) -> None:
    config, out = run
    saved = tmp_path / "eval"
    record = tmp_path / "eval.json"
    checkpoint = str(out / "model_final.pt")
    assert main(["evaluate", "--config", str(config), "--checkpoint", checkpoint, "--save-dir", str(saved),
                 "--output", str(record)]) == 0
    plain = tmp_path / "plain.json"
    assert main(["evaluate", "--config", str(config), "--checkpoint", checkpoint, "--output", str(plain)]) == 0
    assert json.loads(record.read_text())["miou"] == json.loads(plain.read_text())["miou"]  # same scoring

    names = sorted(p.name.removesuffix("_trainIds.png") for p in (saved / "trainIds").glob("*.png"))
    assert len(names) == 3  # the 3 synthetic val images
    for name in names:
        train_ids = np.array(Image.open(saved / "trainIds" / f"{name}_trainIds.png"))
        label_ids = np.array(Image.open(saved / "labelIds" / f"{name}_labelIds.png"))
        colour = Image.open(saved / "color" / f"{name}_color.png")
        assert train_ids.shape == (64, 96) and train_ids.max() <= 18
        # Cityscapes ids of the train ids: road 0 -> 7, sidewalk 1 -> 8, bicycle 18 -> 33
        table = {0: 7, 1: 8, 2: 11, 10: 23, 13: 26, 18: 33}
        for train_id, label_id in table.items():
            assert (label_ids[train_ids == train_id] == label_id).all()
        assert colour.mode == "P" and colour.getpalette()[:6] == [128, 64, 128, 244, 35, 232]  # road, sidewalk
        assert (np.array(colour) == train_ids).all()
    rows = (saved / "confusion_matrix.csv").read_text().splitlines()
    counts = np.array([[int(v) for v in row.split(",")[1:]] for row in rows[1:]])
    labelled = sum(int((np.array(Image.open(p)) != 255).sum())
                   for p in (out.parent / "data" / "cityscapes" / "gtFine" / "val").rglob("*_labelTrainIds.png"))
    assert counts.shape == (19, 19) and counts.sum() == labelled  # every labelled pixel counted once
    assert Image.open(saved / "confusion_matrix.png").size == (1000, 850)
