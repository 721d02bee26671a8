"""The crop pipeline: mmseg resize sizes, the cat_max_ratio rule and the RCS re-crop loop."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.data import transforms as T
from trainer.data.datasets import CropDataset, CropSettings
from trainer.data.layouts import Sample
from trainer.data.rcs import RareClassSampler


def test_rescaled_sizes_match_mmcv() -> None:
    assert T.rescaled_size(1914, 1052, (1280, 720)) == (1280, 704)  # GTA5
    assert T.rescaled_size(2048, 1024, (1024, 512)) == (1024, 512)  # Cityscapes
    assert T.rescaled_size(1280, 760, (1280, 760)) == (1280, 760)  # SYNTHIA


def test_resize_keeps_label_values_and_matches_image_size() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    label = np.repeat(np.arange(4, dtype=np.uint8), 50)[None, :].repeat(100, 0)
    out_img, out_label = T.resize(img, label, (100, 50))
    assert out_img.shape == (50, 100, 3) and out_label is not None and out_label.shape == (50, 100)
    assert set(np.unique(out_label).tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize(("counts", "accepted"), [
    ({0: 80, 1: 20}, False),  # 0.8 >= 0.75
    ({0: 70, 1: 30}, True),
    ({0: 100}, False),  # one class
    ({255: 50, 0: 40, 1: 10}, False),  # ignore excluded: 40 / 50 = 0.8
    ({255: 90, 0: 6, 1: 4}, True),
])
def test_cat_max_ratio_rule(counts: dict[int, int], accepted: bool) -> None:
    label = np.concatenate([np.full(n, c, np.uint8) for c, n in counts.items()]).reshape(10, 10)
    assert T.crop_accepted(label, 0.75) is accepted


def test_cat_max_box_gives_up_after_ten_redraws_and_keeps_the_last() -> None:
    label = np.zeros((40, 40), np.uint8)
    rng, replay = np.random.default_rng(3), np.random.default_rng(3)
    box = T.cat_max_box(label, (8, 8), 0.75, rng)
    boxes = [T.random_box(label.shape, (8, 8), replay) for _ in range(11)]
    assert box == boxes[-1]
    assert rng.bit_generator.state == replay.bit_generator.state


def test_cat_max_box_returns_an_accepted_crop_when_one_is_likely() -> None:
    label = np.zeros((40, 40), np.uint8)
    label[:, 20:] = 1
    for seed in range(20):
        box = T.cat_max_box(label, (20, 20), 0.75, np.random.default_rng(seed))
        assert T.crop_accepted(T.apply_box(label, box), 0.75) or box[2] in (0, 20)


def test_pad_fills_label_with_ignore() -> None:
    img, label = T.pad_to(np.ones((3, 2, 3), np.float32), np.zeros((2, 3), np.uint8), (4, 4))
    assert img.shape == (3, 4, 4) and img[:, 3].sum() == 0 and label[3].tolist() == [255] * 4


def test_rcs_recrop_loop(tmp_path) -> None:  # noqa: ANN001
    label = np.zeros((64, 64), np.uint8)
    label[:8, :8] = 5  # 64 pixels of the rare class in one corner
    sampler = RareClassSampler([("l.png", {0: 4032, 5: 64})], ["l.png"], 0.01, 40, 0.5, 10)
    dataset = CropDataset([Sample(tmp_path / "i.png", tmp_path / "l.png")],
                          CropSettings((64, 64), (16, 16), 0.0), seed=0, stream=0, batch_size=1, rcs=sampler)
    hits = 0
    for seed in range(300):
        box = dataset._crop_box(label, 5, np.random.default_rng(seed))
        hits += int(np.count_nonzero(T.apply_box(label, box) == 5) > 20)
    # One crop holds > 20 pixels of class 5 for 26 of the 49 x 49 offsets (p1 = 0.0108); with up to
    # 10 re-crops p = 1 - (1 - p1)^11 = 0.113: about 34 +- 5.5 of 300 (a single crop: about 3).
    assert 20 <= hits <= 50
    rng, replay = np.random.default_rng(1), np.random.default_rng(1)
    box = dataset._crop_box(np.zeros((64, 64), np.uint8), 5, rng)  # impossible: 1 + 10 crops, last kept
    boxes = [T.random_box((64, 64), (16, 16), replay) for _ in range(11)]
    assert box == boxes[-1] and rng.bit_generator.state == replay.bit_generator.state
