"""How each domain paints a scene's label map into an image (the appearance half of the gap).

Source ("render-like", as GTA5): flat per-class colours, per-object colour variation, sharp
edges, almost no noise. Target ("photo-like", as Cityscapes): its own colour and texture for
every class (grain, smooth blotches, window grids or stripes in class-specific amounts), a
lighting gradient and vignetting, blur and sensor noise, an ego-vehicle hood over the bottom
rows and warped rows at the top (both labelled 255 as in Cityscapes).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from trainer.data.labels import IGNORE

SOURCE_PALETTE = np.array([
    (96, 92, 100), (190, 170, 160), (140, 120, 110), (160, 150, 120), (150, 130, 100), (120, 120, 120),
    (240, 190, 40), (230, 220, 20), (70, 150, 40), (150, 200, 110), (90, 150, 240), (200, 40, 60),
    (240, 20, 10), (20, 40, 160), (20, 60, 110), (40, 90, 120), (40, 100, 110), (20, 20, 240),
    (140, 20, 50),
], dtype=np.float32)  # fmt: skip
TARGET_PALETTE = np.array([
    (118, 110, 104), (160, 150, 150), (110, 104, 96), (140, 140, 128), (125, 115, 95), (95, 95, 90),
    (200, 160, 70), (190, 185, 60), (70, 100, 65), (120, 140, 90), (185, 200, 215), (150, 70, 70),
    (170, 60, 50), (60, 70, 110), (80, 90, 100), (90, 110, 120), (95, 115, 105), (70, 60, 170),
    (120, 60, 80),
], dtype=np.float32)  # fmt: skip
"""Each class's own target colour: not a global shift of the source palette."""

_THING_JITTER = np.array([0.0] * 11 + [35.0, 35.0, 60.0, 40.0, 35.0, 25.0, 30.0, 30.0], dtype=np.float32)
"""Per-object colour spread by class: cars come in all colours, stuff has one colour per image."""


@dataclass(frozen=True)
class DomainStyle:
    palette: np.ndarray
    texture: np.ndarray
    """(19, 3) amplitudes of the grain, blotch and grid textures per class."""
    colour_jitter: float
    noise: float
    blur_sigma: float
    lighting: float
    hood_rows: float
    """Hood height at the centre as a fraction of the image height (0: none)."""
    warped_rows: float


def _texture_table(grain: list[float], blotch: list[float], grid: list[float]) -> np.ndarray:
    return np.stack([np.array(grain), np.array(blotch), np.array(grid)], axis=1).astype(np.float32)


SOURCE_STYLE = DomainStyle(
    palette=SOURCE_PALETTE,
    texture=_texture_table([2.0] * 19, [3.0] * 19, [0, 0, 18] + [0] * 16),
    colour_jitter=6.0, noise=1.0, blur_sigma=0.0, lighting=0.0, hood_rows=0.0, warped_rows=0.0,
)
TARGET_STYLE = DomainStyle(
    palette=TARGET_PALETTE,
    texture=_texture_table(
        grain=[14, 10, 6, 12, 4, 4, 3, 3, 18, 16, 2, 8, 8, 5, 6, 5, 6, 8, 8],
        blotch=[10, 14, 16, 18, 8, 6, 4, 4, 30, 22, 14, 10, 10, 8, 10, 8, 10, 6, 6],
        grid=[0, 12, 26, 6, 30, 0, 10, 8, 0, 0, 0, 6, 6, 10, 14, 20, 22, 0, 10],
    ),
    colour_jitter=12.0, noise=5.0, blur_sigma=0.9, lighting=0.35, hood_rows=0.2, warped_rows=0.03,
)


def _fields(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) unit textures: pixel grain, smooth blotches, a window/slat grid."""
    grain = rng.standard_normal((height, width)).astype(np.float32)
    low = rng.standard_normal((max(2, height // 16), max(2, width // 16))).astype(np.float32)
    blotch = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    period = max(3, width // 48)
    v, u = np.mgrid[0:height, 0:width]
    grid = (((u // period) % 2) * ((v // period) % 2) * 2.0 - 1.0).astype(np.float32)
    return np.stack([grain, blotch, grid], axis=-1)


def _lighting(height: int, width: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 1) gain: a linear ramp in a random direction times a vignette."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = float(rng.uniform(0, 2 * np.pi))
    ramp = ((u / width - 0.5) * np.cos(angle) + (v / height - 0.5) * np.sin(angle)) * strength
    vignette = 1.0 - 0.5 * strength * (((u / width - 0.5) ** 2 + (v / height - 0.5) ** 2) * 2)
    return ((1.0 + ramp) * vignette)[..., None]


def _hood_and_warp(img: np.ndarray, label: np.ndarray, style: DomainStyle, rng: np.random.Generator) -> None:
    """Ego-vehicle hood (a dark curved band at the bottom) and smeared top rows, both ignore."""
    height, width = label.shape
    if style.hood_rows > 0:
        u = (np.arange(width) + 0.5) / width - 0.5
        top = height * (1.0 - style.hood_rows * (1.0 - 1.2 * u**2))
        mask = np.arange(height)[:, None] >= top[None, :]
        shade = np.linspace(40, 70, height, dtype=np.float32)[:, None, None]
        img[mask] = np.broadcast_to(shade, img.shape)[mask] + float(rng.uniform(-10, 10))
        label[mask] = IGNORE
    rows = int(round(style.warped_rows * height))
    for r in range(rows):
        img[r] = np.roll(img[rows], int(rng.integers(-width // 8, width // 8 + 1)), axis=0)
    label[:rows] = IGNORE


def render(
    label: np.ndarray, instance: np.ndarray, style: DomainStyle, rng: np.random.Generator
) -> np.ndarray:
    """(H, W, 3) uint8 RGB image of the scene; ``label`` gets 255 where the domain has void."""
    height, width = label.shape
    palette = style.palette + rng.normal(0.0, style.colour_jitter, style.palette.shape).astype(np.float32)
    inst_colour = rng.normal(0.0, 1.0, (int(instance.max()) + 1, 3)).astype(np.float32)
    inst_colour[0] = 0.0
    cls = np.minimum(label, 18)
    img = palette[cls] + inst_colour[instance] * _THING_JITTER[cls][..., None]
    texture = (_fields(height, width, rng) * style.texture[cls]).sum(axis=-1, keepdims=True)
    img = img + texture
    if style.lighting > 0:
        img = img * _lighting(height, width, style.lighting, rng)
    _hood_and_warp(img, label, style, rng)
    if style.blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), style.blur_sigma)
    img = img + rng.normal(0.0, style.noise, img.shape).astype(np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)
