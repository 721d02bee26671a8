"""mmseg 0.16's ``PhotoMetricDistortion``, the colour augmentation of source-only and target-only runs.

The reference's source-only (``gta_to_cityscapes_512x512.py``) and target-only
(``cityscapes_half_512x512.py``) pipelines run it after ``RandomFlip`` and before ``Normalize``, on
the uint8 0..255 image; its UDA pipelines leave it out (the mixed images get DACS's strong
augmentation instead). Steps, each applied with probability 0.5 (one coin ``randint(2)`` each):

1. brightness: ``+ U(-32, 32)``, clipped to 0..255, cast to uint8 (truncation);
2. a coin ``mode``: 1 -> contrast now, 0 -> contrast last (mmseg's comment says the opposite;
   the code, followed here, does contrast first when mode == 1);
3. saturation: to HSV (OpenCV, uint8: H in 0..179, S and V 0..255), S ``* U(0.5, 1.5)``, clipped,
   truncated, back to RGB;
4. hue: to HSV, H ``+ randint(-18, 18)`` (numpy's upper bound is exclusive: -18..17) mod 180, back;
5. contrast (if mode == 0): ``* U(0.5, 1.5)``, clipped, truncated.

Every draw comes from the sample's Generator in this order, so a crop stays a pure function of
(seed, stream, batch, slot). The reference converts BGR images; converting RGB with the matching
OpenCV codes gives the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PhotoMetricDistortion:
    """mmseg 0.16's defaults."""

    brightness_delta: float = 32.0
    contrast_range: tuple[float, float] = (0.5, 1.5)
    saturation_range: tuple[float, float] = (0.5, 1.5)
    hue_delta: int = 18

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> distorted (H, W, 3) uint8 RGB."""
        img = np.ascontiguousarray(img)
        img = self.brightness(img, rng)
        contrast_first = int(rng.integers(2)) == 1
        if contrast_first:
            img = self.contrast(img, rng)
        img = self.saturation(img, rng)
        img = self.hue(img, rng)
        if not contrast_first:
            img = self.contrast(img, rng)
        return img

    def brightness(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.integers(2):
            return convert(img, beta=rng.uniform(-self.brightness_delta, self.brightness_delta))
        return img

    def contrast(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.integers(2):
            return convert(img, alpha=rng.uniform(*self.contrast_range))
        return img

    def saturation(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.integers(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[:, :, 1] = convert(hsv[:, :, 1], alpha=rng.uniform(*self.saturation_range))
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        return img

    def hue(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.integers(2):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            shift = int(rng.integers(-self.hue_delta, self.hue_delta))
            hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int64) + shift) % 180
            return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        return img


def convert(img: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """mmseg's ``convert``: float32 ``img * alpha + beta``, clipped to 0..255, cast (truncated) to uint8."""
    out = img.astype(np.float32) * np.float32(alpha) + np.float32(beta)
    return np.clip(out, 0, 255).astype(np.uint8)
