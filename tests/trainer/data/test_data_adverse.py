"""ACDC and Dark Zurich as targets: layouts as downloaded, prepare's checks, Cityscapes as the source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from trainer_data_fixtures import write_gray, write_rgb

from trainer.config import config_from_dict
from trainer.config.loading import ConfigError
from trainer.data import DataError, build_train_streams, build_val_loader
from trainer.data.layouts import list_samples
from trainer.data.prepare import main, prepare
from trainer.data.stats import SAMPLE_CLASS_STATS


def _label(value: int = 13) -> np.ndarray:
    label = np.full((6, 8), 0, np.uint8)
    label[3:, :] = value
    label[0, 0] = 255
    return label


def _pair(root: Path, rel: str, base: str, labelled: bool = True) -> None:
    write_rgb(root / "rgb_anon" / rel / f"{base}_rgb_anon.png")
    if labelled:
        write_gray(root / "gt" / rel / f"{base}_gt_labelTrainIds.png", _label())


@pytest.fixture
def acdc(tmp_path: Path) -> Path:
    """As downloaded: rgb_anon/CONDITION/SPLIT/SEQUENCE/..., plus a *_ref folder that is not used."""
    root = tmp_path / "acdc"
    _pair(root, "fog/train/GOPR0475", "GOPR0475_frame_000041")
    _pair(root, "night/train/GOPR0351", "GOPR0351_frame_000159")
    _pair(root, "rain/val/GOPR0400", "GOPR0400_frame_000001")
    _pair(root, "snow/val/GOPR0122", "GOPR0122_frame_000161")
    _pair(root, "fog/train_ref/GOPR0475", "GOPR0475_frame_000041_ref", labelled=False)
    return root


@pytest.fixture
def dark_zurich(tmp_path: Path) -> Path:
    root = tmp_path / "dark_zurich"
    _pair(root, "train/night/GOPR0348", "GOPR0348_frame_000001", labelled=False)
    _pair(root, "train/night/GOPR0348", "GOPR0348_frame_000002", labelled=False)
    _pair(root, "train/day/GOPR0349", "GOPR0349_frame_000001", labelled=False)
    _pair(root, "val/night/GOPR0356", "GOPR0356_frame_000321")
    return root


def test_acdc_splits_gather_every_condition(acdc: Path) -> None:
    train = list_samples("acdc", acdc, "train", labels=False)
    assert [s.image.name for s in train] == ["GOPR0475_frame_000041_rgb_anon.png", "GOPR0351_frame_000159_rgb_anon.png"]
    val = list_samples("acdc", acdc, "val")
    assert [s.label.relative_to(acdc).as_posix() for s in val if s.label] == [
        "gt/rain/val/GOPR0400/GOPR0400_frame_000001_gt_labelTrainIds.png",
        "gt/snow/val/GOPR0122/GOPR0122_frame_000161_gt_labelTrainIds.png",
    ]


def test_acdc_flattened_layout_of_the_reference_readme(tmp_path: Path) -> None:
    root = tmp_path / "acdc"
    _pair(root, "val", "GOPR0400_frame_000001")
    assert [s.label.name for s in list_samples("acdc", root, "val") if s.label] == [
        "GOPR0400_frame_000001_gt_labelTrainIds.png"
    ]


def test_dark_zurich_trains_on_night_and_evaluates_on_val(dark_zurich: Path) -> None:
    train = list_samples("dark_zurich", dark_zurich, "train", labels=False)
    assert [s.image.parent.parent.name for s in train] == ["night", "night"]
    assert all(s.label is None for s in train)
    val = list_samples("dark_zurich", dark_zurich, "val")
    assert len(val) == 1 and val[0].label is not None
    with pytest.raises(DataError, match="labels missing; they ship with the dataset's gt archive"):
        list_samples("dark_zurich", dark_zurich, "train", labels=True)


def test_prepare_checks_labels_and_writes_nothing(acdc: Path, dark_zurich: Path) -> None:
    # ACDC's train labels are checked and counted (6x8: 3 rows of car 13, the rest road 0 but one 255)
    assert prepare("acdc", acdc, workers=1) == [
        ("gt/fog/train/GOPR0475/GOPR0475_frame_000041_gt_labelTrainIds.png", {0: 23, 13: 24}),
        ("gt/night/train/GOPR0351/GOPR0351_frame_000159_gt_labelTrainIds.png", {0: 23, 13: 24}),
    ]
    assert prepare("dark_zurich", dark_zurich, workers=1) == []
    assert not (acdc / SAMPLE_CLASS_STATS).exists() and not (dark_zurich / SAMPLE_CLASS_STATS).exists()


def test_prepare_names_a_label_that_is_not_train_ids(acdc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = acdc / "gt/snow/val/GOPR0122/GOPR0122_frame_000161_gt_labelTrainIds.png"
    write_gray(bad, _label(value=33))
    assert main(["acdc", str(acdc), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not train ids" in err and "Traceback" not in err


def test_missing_label_and_missing_folder_are_named(acdc: Path, tmp_path: Path) -> None:
    label = acdc / "gt/rain/val/GOPR0400/GOPR0400_frame_000001_gt_labelTrainIds.png"
    label.unlink()
    with pytest.raises(DataError, match="images without a \\*_gt_labelTrainIds.png label") as info:
        prepare("acdc", acdc, workers=1)
    assert str(label) in str(info.value)
    with pytest.raises(DataError, match="rgb_anon/val does not exist"):
        list_samples("dark_zurich", tmp_path / "nowhere", "val")


def _cityscapes_source(root: Path) -> Path:
    for city, n in (("aachen", 2), ("bochum", 1)):
        for i in range(n):
            base = f"{city}_00000{i}_000019"
            write_rgb(root / "leftImg8bit" / "train" / city / f"{base}_leftImg8bit.png", 16, 32)
            label = np.zeros((16, 32), np.uint8)
            label[8:, :] = 13
            write_gray(root / "gtFine" / "train" / city / f"{base}_gtFine_labelTrainIds.png", label)
    base = "lindau_000000_000019"
    write_rgb(root / "leftImg8bit" / "val" / "lindau" / f"{base}_leftImg8bit.png", 16, 32)
    write_gray(root / "gtFine" / "val" / "lindau" / f"{base}_gtFine_labelTrainIds.png", np.zeros((16, 32)))
    prepare("cityscapes", root, workers=1)
    return root


def test_cityscapes_to_acdc_streams_and_val(acdc: Path, tmp_path: Path) -> None:
    cs = _cityscapes_source(tmp_path / "cityscapes")
    cfg = config_from_dict({
        "data": {"source": {"kind": "cityscapes", "root": str(cs), "resize": [32, 16]},
                 "target": {"kind": "acdc", "root": str(acdc), "resize": [16, 12]},
                 "val_resize": [16, 12], "crop_size": [8, 8], "batch_size": 2, "num_workers": 0},
        "uda": {"rcs": {"min_pixels": 5}},
    })
    assert len(cfg.eval_classes) == 19
    streams = build_train_streams(cfg)
    assert streams.unlabelled is not None
    assert next(streams.labelled)["label"].shape == (2, 8, 8)
    assert next(streams.unlabelled)["img"].shape == (2, 3, 8, 8)
    val = list(build_val_loader(cfg))
    # the image at val_resize, the label at its full size (scored there)
    assert len(val) == 2 and val[0]["label"].shape == (1, 6, 8) and val[0]["img"].shape == (1, 3, 12, 16)
    assert set(torch.unique(val[0]["label"]).tolist()) == {0, 13, 255}


def test_config_accepts_the_new_kinds_only_where_they_fit() -> None:
    config_from_dict({"data": {"target": {"kind": "dark_zurich", "root": "d", "resize": [960, 540]}}})
    with pytest.raises(ConfigError, match="data.target.kind must be one of cityscapes, acdc, dark_zurich"):
        config_from_dict({"data": {"target": {"kind": "gta", "root": "g", "resize": [1280, 720]}}})
    with pytest.raises(ConfigError, match="data.source.kind must be one of gta, synthia, cityscapes"):
        config_from_dict({"data": {"source": {"kind": "acdc", "root": "a", "resize": [960, 540]}}})
