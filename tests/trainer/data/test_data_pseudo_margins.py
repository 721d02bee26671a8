"""HRDA's v2 pseudo-label margins: the validity mask, its crop and flip with the image (hrda.md checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainer.data import transforms as T
from trainer.data.datasets import CropDataset, CropSettings
from trainer.data.layouts import list_samples
from trainer.data.pseudo_margins import attach, detach, margin_mask, pad_valid
from trainer.data.synthetic.writer import write_dataset

HRDA_MARGINS = (30, 240, 30, 30)


def test_margins_on_the_cityscapes_frame_only_cost_weight_where_a_crop_touches_the_border() -> None:
    valid = margin_mask((1024, 2048), HRDA_MARGINS)
    left = T.apply_box(valid, (0, 1024, 0, 1024))  # a crop at x offset 0
    assert (left[30:784, :30] == 0).all() and (left[30:784, 30:] == 1).all()
    middle = T.apply_box(valid, (0, 1024, 512, 1536))  # touches neither side
    assert (middle[30:784] == 1).all()
    for crop in (left, middle, T.apply_box(valid, (0, 1024, 1024, 2048))):
        assert (crop[:30] == 0).all() and (crop[784:] == 0).all()  # top 30, bottom 240 rows, every crop
    assert valid.sum() == (1024 - 270) * (2048 - 60)


def test_attach_flip_detach_keeps_label_and_mask_aligned() -> None:
    label = np.arange(12, dtype=np.uint8).reshape(3, 4)
    valid = margin_mask((3, 4), (0, 0, 1, 0))
    img = np.zeros((3, 4, 3), dtype=np.uint8)
    _, flipped = T.maybe_flip(img, attach(label, valid), 1.0, np.random.default_rng(0))
    assert flipped is not None
    new_label, new_valid = detach(flipped)
    assert (new_label == label[:, ::-1]).all() and new_valid is not None
    assert new_valid[:, -1].tolist() == [0, 0, 0] and new_valid[:, :-1].min() == 1
    assert detach(label)[1] is None and pad_valid(valid, (4, 5)).shape == (4, 5)
    assert pad_valid(valid, (4, 5))[3].sum() == 0 and pad_valid(valid, (4, 5)).dtype == np.float32


def test_target_dataset_emits_the_flipped_mask(tmp_path: Path) -> None:
    write_dataset(tmp_path, (2, 2, 1), (48, 96), seed=0)
    samples = list_samples("cityscapes", tmp_path / "cityscapes", "train", labels=False)
    settings = CropSettings((96, 48), (48, 96), 1.0, pseudo_margins=(2, 5, 1, 3))  # whole frame, always flipped
    sample = CropDataset(samples, settings, seed=0, stream=1, batch_size=1)[0]
    valid = sample["valid"]
    assert valid.shape == (48, 96) and valid.dtype == torch.float32
    assert valid[:2].eq(0).all() and valid[-5:].eq(0).all()
    assert valid[2:-5, :3].eq(0).all() and valid[2:-5, -1].eq(0).all()  # right margin 3 flipped to the left
    assert valid[2:-5, 3:-1].eq(1).all()
    plain = CropDataset(samples, CropSettings((96, 48), (48, 96), 1.0), seed=0, stream=1, batch_size=1)[0]
    assert "valid" not in plain and torch.equal(plain["img"], sample["img"])  # same draws, same crop
