"""prepare: train-id PNGs, RCS statistics, idempotence, and clear errors on bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trainer_data_fixtures import write_gray, write_rgb, write_synthia_label

from trainer.data.errors import DataError
from trainer.data.labels import GTA_TABLE, SYNTHIA_TABLE, to_train_ids
from trainer.data.prepare import main, prepare


def _stats(root: Path) -> tuple[list, dict]:
    return (json.loads((root / "sample_class_stats.json").read_text()),
            json.loads((root / "samples_with_class.json").read_text()))


def test_label_maps_match_the_spec() -> None:
    gta = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
           26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
    assert [int(GTA_TABLE[i]) for i in range(34)] == [gta.get(i, 255) for i in range(34)]
    synthia = {3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 10, 10: 11, 17: 12, 8: 13,
               19: 15, 12: 17, 11: 18}
    assert [int(SYNTHIA_TABLE[i]) for i in range(23)] == [synthia.get(i, 255) for i in range(23)]
    with pytest.raises(ValueError, match="34"):
        to_train_ids(np.array([[7, 34]]), GTA_TABLE)


def test_gta_prepare_writes_train_ids_and_stats(gta_root: Path) -> None:
    prepare("gta", gta_root, workers=1)
    label = np.asarray(Image.open(gta_root / "labels" / "a_labelTrainIds.png"))
    assert label[0, 0] == 0 and label[3, 0] == 13
    assert label[5].tolist() == [255, 255, 255, 255, 18, 18, 10, 10]
    listing, with_class = _stats(gta_root)
    assert listing == [{"file": "labels/a_labelTrainIds.png", "0": 24, "10": 2, "13": 16, "18": 2},
                       {"file": "labels/b_labelTrainIds.png", "10": 48}]
    assert with_class == {"0": [["labels/a_labelTrainIds.png", 24]], "10": [
        ["labels/a_labelTrainIds.png", 2], ["labels/b_labelTrainIds.png", 48]],
        "13": [["labels/a_labelTrainIds.png", 16]], "18": [["labels/a_labelTrainIds.png", 2]]}


def test_prepare_is_idempotent_and_keeps_finished_files(gta_root: Path) -> None:
    prepare("gta", gta_root, workers=1)
    out = gta_root / "labels" / "a_labelTrainIds.png"
    before, mtime = _stats(gta_root), out.stat().st_mtime_ns
    (gta_root / "labels" / ".b_labelTrainIds.png.123.tmp.png").write_bytes(b"stale")
    os.utime(out, ns=(mtime - 10**9, mtime - 10**9))
    prepare("gta", gta_root, workers=1)
    assert out.stat().st_mtime_ns == mtime - 10**9  # not rewritten
    assert _stats(gta_root) == before
    assert not list((gta_root / "labels").glob(".*"))


def test_prepare_in_parallel_matches_serial(gta_root: Path, tmp_path: Path) -> None:
    prepare("gta", gta_root, workers=2)
    parallel = _stats(gta_root)
    for f in (gta_root / "labels").glob("*_labelTrainIds.png"):
        f.unlink()
    prepare("gta", gta_root, workers=1)
    assert _stats(gta_root) == parallel


def test_synthia_reads_the_16bit_class_channel(synthia_root: Path) -> None:
    prepare("synthia", synthia_root, workers=1)
    label = np.asarray(Image.open(synthia_root / "GT" / "LABELS" / "0000001_labelTrainIds.png"))
    assert label[0, 0] == 0 and label[3, 0] == 13
    assert label[5].tolist() == [255, 255, 255, 18, 10, 10, 10, 10]  # 0, 13 and 16 unmapped -> 255
    listing, _ = _stats(synthia_root)
    assert listing == [{"file": "GT/LABELS/0000001_labelTrainIds.png", "0": 24, "10": 4, "13": 16, "18": 1}]


def test_cityscapes_from_polygons_and_existing_train_ids(cityscapes_root: Path) -> None:
    prepare("cityscapes", cityscapes_root, workers=1)
    made = cityscapes_root / "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png"
    label = np.asarray(Image.open(made))
    assert label[0, 0] == 10 and label[4, 0] == 0 and label[6, 3] == 13
    assert (cityscapes_root / "gtFine/val/lindau/lindau_000000_000019_gtFine_labelTrainIds.png").is_file()
    listing, _ = _stats(cityscapes_root)
    assert [e["file"] for e in listing] == [
        "gtFine/train/aachen/aachen_000000_000019_gtFine_labelTrainIds.png",
        "gtFine/train/aachen/aachen_000001_000019_gtFine_labelTrainIds.png"]
    assert listing[1] == {"file": listing[1]["file"], "8": 70}
    assert sum(v for k, v in listing[0].items() if k != "file") == int((label != 255).sum())


def _assert_fails(root: Path, kind: str, *fragments: str) -> None:
    with pytest.raises(DataError) as info:
        prepare(kind, root, workers=1)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert not (root / "sample_class_stats.json").exists()
    assert not (root / "samples_with_class.json").exists()


def test_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "gta" / "images").mkdir(parents=True)
    _assert_fails(tmp_path / "gta", "gta", "labels", "does not exist")


def test_images_without_labels_and_labels_without_images(gta_root: Path) -> None:
    write_rgb(gta_root / "images" / "c.png")
    _assert_fails(gta_root, "gta", "images without a label", "1 file(s)", "c.png")
    (gta_root / "images" / "c.png").unlink()
    for i in range(7):
        write_gray(gta_root / "labels" / f"z{i}.png", np.zeros((6, 8)))
    _assert_fails(gta_root, "gta", "labels without an image", "7 file(s)", "z0.png", "and 2 more")


def test_truncated_png(gta_root: Path) -> None:
    path = gta_root / "labels" / "b.png"
    path.write_bytes(path.read_bytes()[:40])
    _assert_fails(gta_root, "gta", "bad annotation files", "b.png", "truncated")


def test_truncated_image_is_reported_under_the_image(gta_root: Path) -> None:
    image = gta_root / "images" / "b.png"
    image.write_bytes(image.read_bytes()[:40])
    with pytest.raises(DataError) as info:
        prepare("gta", gta_root, workers=1)
    assert str(image) in str(info.value) and "truncated" in str(info.value)
    assert str(gta_root / "labels" / "b.png") not in str(info.value)
    assert not (gta_root / "sample_class_stats.json").exists()


def test_label_of_another_size_than_its_image_is_refused(gta_root: Path) -> None:
    write_rgb(gta_root / "images" / "b.png", height=7, width=8)
    _assert_fails(gta_root, "gta", "b.png", "label is 8x6 (width x height) but its image", "is 8x7")
    assert not (gta_root / "labels" / "b_labelTrainIds.png").exists(), "nothing written for the bad pair"
    assert sorted(p.name for p in (gta_root / "labels").iterdir()) == ["a.png", "a_labelTrainIds.png", "b.png"]


def test_finished_train_ids_of_another_size_are_refused(cityscapes_root: Path) -> None:
    image = next((cityscapes_root / "leftImg8bit" / "train").rglob("aachen_000001_000019_leftImg8bit.png"))
    write_rgb(image, 9, 10)  # its ready train-id PNG is 10x8
    _assert_fails(cityscapes_root, "cityscapes", "aachen_000001_000019", "label is 10x8", "is 10x9")


def test_ids_outside_the_map(gta_root: Path) -> None:
    write_gray(gta_root / "labels" / "b.png", np.full((6, 8), 40))
    _assert_fails(gta_root, "gta", "b.png", "ids outside 0..33: [40]")


def test_synthia_must_be_16bit(synthia_root: Path) -> None:
    write_gray(synthia_root / "GT" / "LABELS" / "0000001.png", np.full((6, 8), 3))
    _assert_fails(synthia_root, "synthia", "0000001.png", "16-bit")


def test_synthia_invalid_class_id(synthia_root: Path) -> None:
    write_synthia_label(synthia_root / "GT" / "LABELS" / "0000001.png", np.full((6, 8), 23))
    _assert_fails(synthia_root, "synthia", "ids outside 0..22: [23]")


def test_cli_prints_the_error_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gta", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: dataset root") and "Traceback" not in err
