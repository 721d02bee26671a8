"""RGB <-> HSV and the four colour-jitter operations on [0, 1] images, in torch.

Semantics of kornia 0.5 (what the reference's ``ColorJitter`` runs): brightness ADDS its factor,
contrast MULTIPLIES the image (no blend with the mean), saturation scales HSV's S, hue rotates H
(a fraction of the circle); every result is clamped to [0, 1]. Images are (3, H, W) or (B, 3, H, W).
"""

from __future__ import annotations

import math

import torch

_EPS = 1e-6


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """HSV with H in [0, 2*pi), S and V in [0, 1], channel dim -3."""
    max_rgb, argmax = rgb.max(dim=-3)
    min_rgb = rgb.min(dim=-3).values
    delta = max_rgb - min_rgb
    value = max_rgb
    saturation = delta / (max_rgb + _EPS)
    safe = torch.where(delta == 0, torch.ones_like(delta), delta)
    r, g, b = (max_rgb.unsqueeze(-3) - rgb).unbind(dim=-3)
    candidates = torch.stack((b - g, (r - b) + 2.0 * safe, (g - r) + 4.0 * safe), dim=-3) / safe.unsqueeze(-3)
    hue = torch.gather(candidates, -3, argmax.unsqueeze(-3)).squeeze(-3)
    hue = torch.remainder(hue / 6.0, 1.0) * (2.0 * math.pi)
    return torch.stack((hue, saturation, value), dim=-3)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of ``rgb_to_hsv``; any real hue is taken modulo the circle."""
    hue, saturation, value = hsv.unbind(dim=-3)
    h6 = torch.remainder(hue / (2.0 * math.pi), 1.0) * 6.0
    sector = torch.floor(h6)
    frac = h6 - sector
    p = value * (1.0 - saturation)
    q = value * (1.0 - frac * saturation)
    t = value * (1.0 - (1.0 - frac) * saturation)
    sector = sector.long().clamp(0, 5).unsqueeze(-3)  # (..., 1, H, W)
    # rows: sector 0..5 -> (r, g, b) = (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q)
    red = torch.stack((value, q, p, p, t, value), dim=-3)
    green = torch.stack((t, value, value, q, p, p), dim=-3)
    blue = torch.stack((p, p, t, value, value, q), dim=-3)
    return torch.cat([torch.gather(c, -3, sector) for c in (red, green, blue)], dim=-3)


def adjust_brightness(img: torch.Tensor, delta: float) -> torch.Tensor:
    """``clamp(img + delta)``: additive brightness (kornia 0.5)."""
    return (img + delta).clamp(0.0, 1.0)


def adjust_contrast(img: torch.Tensor, factor: float) -> torch.Tensor:
    """``clamp(img * factor)``: kornia 0.5's contrast."""
    return (img * factor).clamp(0.0, 1.0)


def adjust_saturation(img: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale HSV saturation by ``factor`` (clamped to [0, 1])."""
    hue, saturation, value = rgb_to_hsv(img).unbind(dim=-3)
    saturation = (saturation * factor).clamp(0.0, 1.0)
    return hsv_to_rgb(torch.stack((hue, saturation, value), dim=-3)).clamp(0.0, 1.0)


def adjust_hue(img: torch.Tensor, shift: float) -> torch.Tensor:
    """Rotate the hue by ``shift`` of the full circle (0.5 = 180 degrees)."""
    hue, saturation, value = rgb_to_hsv(img).unbind(dim=-3)
    hue = torch.remainder(hue + shift * 2.0 * math.pi, 2.0 * math.pi)
    return hsv_to_rgb(torch.stack((hue, saturation, value), dim=-3)).clamp(0.0, 1.0)
