"""Strong augmentation: colour maths (kornia 0.5 semantics), blur kernel, determinism."""

import math

import pytest
import torch

from trainer.config import MixConfig
from trainer.uda.augment import blur_kernel_size, gaussian_blur, gaussian_kernel1d, strong_augment
from trainer.uda.color import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_hsv,
)


def _pixel(r: float, g: float, b: float) -> torch.Tensor:
    return torch.tensor([r, g, b]).view(3, 1, 1)


def test_hsv_of_primaries_and_round_trip() -> None:
    assert rgb_to_hsv(_pixel(1, 0, 0)).flatten().tolist() == pytest.approx([0.0, 1.0, 1.0], abs=1e-5)
    assert rgb_to_hsv(_pixel(0, 1, 0)).flatten().tolist() == pytest.approx(
        [2 * math.pi / 3, 1.0, 1.0], abs=1e-5
    )
    img = torch.rand(3, 4, 5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(hsv_to_rgb(rgb_to_hsv(img)), img, atol=1e-5)


def test_jitter_operations_hand_values() -> None:
    assert adjust_brightness(_pixel(0.5, 0.9, 0.0), 0.2).flatten().tolist() == pytest.approx([0.7, 1.0, 0.2])
    assert adjust_contrast(_pixel(0.5, 0.9, 0.0), 1.2).flatten().tolist() == pytest.approx([0.6, 1.0, 0.0])
    assert adjust_hue(_pixel(1, 0, 0), 1 / 3).flatten().tolist() == pytest.approx([0, 1, 0], abs=1e-5)
    assert adjust_hue(_pixel(1, 0, 0), -1 / 3).flatten().tolist() == pytest.approx([0, 0, 1], abs=1e-5)
    # (1, .5, .5): S = 0.5, V = 1; S x 0 -> white, S x 2 -> (1, 0, 0)
    assert adjust_saturation(_pixel(1, 0.5, 0.5), 0.0).flatten().tolist() == pytest.approx(
        [1, 1, 1], abs=1e-5
    )
    assert adjust_saturation(_pixel(1, 0.5, 0.5), 2.0).flatten().tolist() == pytest.approx(
        [1, 0, 0], abs=1e-5
    )


def test_blur_kernel_follows_the_reference_formula() -> None:
    assert [blur_kernel_size(s) for s in (512, 130, 64, 10)] == [51, 13, 7, 1]
    taps = gaussian_kernel1d(5, 1.0)
    assert taps.sum().item() == pytest.approx(1.0)
    assert taps[0].item() == pytest.approx(math.exp(-2) / (1 + 2 * math.exp(-0.5) + 2 * math.exp(-2)))
    flat = torch.full((3, 64, 64), 0.3)
    assert torch.allclose(gaussian_blur(flat, 1.0), flat)


def test_strong_augment_is_deterministic_and_respects_probabilities() -> None:
    img = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    cfg = MixConfig(color_jitter_prob=1.0, blur_prob=1.0)
    a = strong_augment(img, cfg, torch.Generator().manual_seed(7))
    b = strong_augment(img, cfg, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and not torch.allclose(a, img)
    assert not torch.allclose(a[0] - img[0], a[1] - img[1])  # parameters drawn per image
    off = MixConfig(color_jitter_prob=0.0, blur=False)
    assert torch.equal(strong_augment(img, off, torch.Generator().manual_seed(7)), img)
