"""mmseg 0.16's PhotoMetricDistortion: draws, order and pixel maths against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from trainer_data_fixtures import write_gray

from trainer.data.datasets import CropDataset, CropSettings
from trainer.data.layouts import Sample
from trainer.data.photometric import PhotoMetricDistortion, convert

PMD = PhotoMetricDistortion()


class Scripted:
    """A Generator stand-in that returns scripted draws and checks each call's arguments."""

    def __init__(self, *draws: tuple[str, tuple, float]) -> None:
        self.draws = list(draws)

    def _next(self, method: str, args: tuple) -> float:
        expected_method, expected_args, value = self.draws.pop(0)
        assert (method, args) == (expected_method, expected_args)
        return value

    def integers(self, *args: int) -> int:
        return int(self._next("integers", args))

    def uniform(self, *args: float) -> float:
        return self._next("uniform", args)


def coin(value: int) -> tuple[str, tuple, float]:
    return ("integers", (2,), value)


def test_convert_clips_then_truncates() -> None:
    img = np.array([[10, 250, 3, 200]], np.uint8)
    assert convert(img, beta=10.7).tolist() == [[20, 255, 13, 210]]  # 20.7 -> 20, 260.7 -> 255
    assert convert(img, alpha=0.5).tolist() == [[5, 125, 1, 100]]  # 1.5 -> 1
    assert convert(img, alpha=1.5).tolist() == [[15, 255, 4, 255]]  # 4.5 -> 4


def test_brightness_is_additive_and_clipped() -> None:
    img = np.array([[[20, 100, 250]]], np.uint8)
    out = PMD(img, Scripted(coin(1), ("uniform", (-32.0, 32.0), -32.0), coin(0), coin(0), coin(0), coin(0)))
    assert out.tolist() == [[[0, 68, 218]]]


def test_saturation_in_opencv_hsv() -> None:
    # RGB (200, 100, 100): V 200, H 0; OpenCV's 8-bit S is 12-bit fixed point:
    # (100 * round(255 * 4096 / 200) + 2048) >> 12 = (522200 + 2048) >> 12 = 127.
    # S * 0.5 = 63.5 -> 63 (truncated); back: min channel = 200 * (1 - 63/255) = 150.59 -> 151.
    img = np.array([[[200, 100, 100]]], np.uint8)
    rng = Scripted(coin(0), coin(0), coin(1), ("uniform", (0.5, 1.5), 0.5), coin(0), coin(0))
    assert PMD(img, rng).tolist() == [[[200, 151, 151]]]


def test_hue_shift_wraps_modulo_180() -> None:
    # Pure red: H 0. Shift -18 -> 162 (of 180) = 324 degrees: R = 255, G = 0, B = 255 * 0.6 = 153.
    img = np.array([[[255, 0, 0]]], np.uint8)
    rng = Scripted(coin(0), coin(0), coin(0), coin(1), ("integers", (-18, 18), -18), coin(0))
    assert PMD(img, rng).tolist() == [[[255, 0, 153]]]


def test_contrast_position_follows_the_mode_coin() -> None:
    img = np.full((1, 1, 3), 100, np.uint8)
    contrast = ("uniform", (0.5, 1.5), 1.5)
    first = Scripted(coin(0), coin(1), coin(1), contrast, coin(0), coin(0))  # mode 1: contrast second
    last = Scripted(coin(0), coin(0), coin(0), coin(0), coin(1), contrast)  # mode 0: contrast last
    assert PMD(img, first).tolist() == PMD(img, last).tolist() == [[[150, 150, 150]]]


def test_uses_the_mmseg_defaults_with_a_real_generator() -> None:
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    outs = [PMD(img, np.random.default_rng(s)) for s in range(40)]
    assert all(o.dtype == np.uint8 and o.shape == img.shape for o in outs)
    assert any(not np.array_equal(o, img) for o in outs) and any(np.array_equal(o, img) for o in outs)
    assert np.array_equal(PMD(img, np.random.default_rng(5)), PMD(img, np.random.default_rng(5)))


@pytest.fixture
def one_image(tmp_path: Path) -> list[Sample]:
    from PIL import Image

    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "i.png")
    write_gray(tmp_path / "l.png", np.tile(np.arange(16, dtype=np.uint8) % 4, (16, 1)))
    return [Sample(tmp_path / "i.png", tmp_path / "l.png")]


def test_crops_stay_a_function_of_seed_and_sample(one_image: list[Sample]) -> None:
    def crops(photometric: bool, seed: int = 0) -> list[torch.Tensor]:
        settings = CropSettings((16, 16), (8, 8), 0.5, photometric=photometric)
        dataset = CropDataset(one_image, settings, seed=seed, stream=0, batch_size=2)
        return [dataset[n]["img"] for n in range(8)]

    plain, distorted, again = crops(False), crops(True), crops(True)
    assert all(torch.equal(a, b) for a, b in zip(distorted, again, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(plain, distorted, strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(distorted, crops(True, seed=1), strict=True))
