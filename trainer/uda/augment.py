"""Strong augmentation of the mixed images (spec: Self-training step 6).

Whether colour jitter (p 0.8) and blur (p 0.5) happen is decided ONCE per iteration for the whole
batch (the reference draws ``strong_parameters`` once); their parameters are drawn per image:
jitter order (a random permutation), brightness delta U(-s, s), contrast and saturation factors
U(1-s, 1+s), hue shift U(-s, s) of the circle, with s = 0.2; blur sigma U(0.15, 1.15), kernel
``ceil(0.1 * side)`` rounded down to odd (the reference's formula), reflect padding. Jitter works on
de-normalised [0, 1] images; blur is linear, so it runs on the normalised ones directly. Every
draw comes from the caller's CPU ``torch.Generator``, so the augmentation replays exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from trainer.config import MixConfig
from trainer.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from trainer.uda.color import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation


@dataclass(frozen=True)
class JitterParams:
    """One image's colour jitter: ``order`` indexes (brightness, contrast, saturation, hue)."""

    order: tuple[int, ...]
    brightness: float
    contrast: float
    saturation: float
    hue: float


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def draw_jitter(generator: torch.Generator, strength: float) -> JitterParams:
    """Kornia 0.5 ``ColorJitter(s, s, s, s)`` parameters for one image."""
    order = tuple(int(i) for i in torch.randperm(4, generator=generator))
    return JitterParams(
        order=order,
        brightness=_uniform(generator, -strength, strength),
        contrast=_uniform(generator, max(0.0, 1.0 - strength), 1.0 + strength),
        saturation=_uniform(generator, max(0.0, 1.0 - strength), 1.0 + strength),
        hue=_uniform(generator, -min(strength, 0.5), min(strength, 0.5)),
    )


def color_jitter(img01: torch.Tensor, params: JitterParams) -> torch.Tensor:
    """Apply one image's jitter, in its drawn order, to a (3, H, W) image in [0, 1]."""
    ops: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = (
        lambda x: adjust_brightness(x, params.brightness),
        lambda x: adjust_contrast(x, params.contrast),
        lambda x: adjust_saturation(x, params.saturation),
        lambda x: adjust_hue(x, params.hue),
    )
    for index in params.order:
        img01 = ops[index](img01)
    return img01


def blur_kernel_size(side: int) -> int:
    """``ceil(0.1 * side)``, minus one when even: 512 -> 51, 130 -> 13, 64 -> 7."""
    size = math.ceil(0.1 * side)
    return size if size % 2 == 1 else size - 1


def gaussian_kernel1d(size: int, sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps centred on ``size // 2``."""
    x = torch.arange(size, dtype=torch.float64) - size // 2
    taps = torch.exp(-(x**2) / (2.0 * sigma**2))
    return (taps / taps.sum()).float()


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a (C, H, W) image, kernel from ``blur_kernel_size``, reflect border."""
    channels, height, width = img.shape
    ky, kx = blur_kernel_size(height), blur_kernel_size(width)
    out = img.unsqueeze(0)
    if ky > 1:
        wy = gaussian_kernel1d(ky, sigma).to(img).view(1, 1, ky, 1).expand(channels, 1, ky, 1)
        out = F.conv2d(F.pad(out, (0, 0, ky // 2, ky // 2), mode="reflect"), wy, groups=channels)
    if kx > 1:
        wx = gaussian_kernel1d(kx, sigma).to(img).view(1, 1, 1, kx).expand(channels, 1, 1, kx)
        out = F.conv2d(F.pad(out, (kx // 2, kx // 2, 0, 0), mode="reflect"), wx, groups=channels)
    return out.squeeze(0)


def strong_augment(images: torch.Tensor, cfg: MixConfig, generator: torch.Generator) -> torch.Tensor:
    """Colour jitter and blur of ImageNet-normalised images (B, 3, H, W); returns new tensors."""
    jitter = float(torch.rand((), generator=generator)) < cfg.color_jitter_prob
    blur = cfg.blur and float(torch.rand((), generator=generator)) < cfg.blur_prob
    if not (jitter or blur):
        return images
    mean = torch.as_tensor(IMAGENET_MEAN / 255.0, device=images.device).view(3, 1, 1)
    std = torch.as_tensor(IMAGENET_STD / 255.0, device=images.device).view(3, 1, 1)
    out = []
    for img in images.float():
        if jitter:
            img = (
                color_jitter(img * std + mean, draw_jitter(generator, cfg.color_jitter_strength)) - mean
            ) / std
        if blur:
            img = gaussian_blur(img, _uniform(generator, 0.15, 1.15))
        out.append(img)
    return torch.stack(out).to(images.dtype)
