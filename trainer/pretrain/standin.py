"""The ImageNet stand-in: a procedural classification set for pretraining the demo's encoder.

Why: DAFormer's warmup and Feature Distance exist to protect ImageNet features, and its lr is a
fine-tuning lr; a demo that trains MiT from random weights cannot show any of that. ImageNet
itself is neither downloadable here nor trainable on a CPU in minutes, so this set stands in: one
category per class of the synthetic world (11 "stuff" textures and 8 "thing" silhouettes plus the
pole, light and sign) and 5 distractor categories (ball, star, ring, cross, arrow) the world never
shows. Each sample is a 64x64 crop, varied as ImageNet photos are: any colour (not either domain's
palette), scale, position, aspect, mirror, cluttered textured background, lighting, blur and noise.
Stuff categories are whole-crop textures told apart by structure (tiles, bricks, windows, slats,
foliage, grain, gradient), never by a class colour.

Deterministic: sample ``i`` of split ``s`` with seed ``k`` is a pure function of (k, s, i), so the
training stream, the held-out split and the checkpoint built from them are reproducible.
"""

from __future__ import annotations

import cv2
import numpy as np

from trainer.pretrain.shapes import OBJECTS

SIZE = 64
"""Side of every stand-in image (the demo's objects are 10-60 pixels tall in 128x256 images)."""
STUFF: tuple[str, ...] = ("road", "sidewalk", "building", "wall", "fence", "vegetation", "terrain", "sky")
CLASSES: tuple[str, ...] = STUFF + tuple(OBJECTS)
"""24 categories: 8 stuff textures, 11 world objects (pole, light, sign, the 8 thing classes), 5 distractors."""
SPLITS = {"train": 0, "heldout": 1}


def _colour(rng: np.random.Generator) -> np.ndarray:
    """Any colour: hue uniform, saturation and value broad (HSV -> RGB float)."""
    hsv = np.array([[[rng.integers(0, 180), rng.integers(0, 256), rng.integers(60, 256)]]], dtype=np.uint8)
    return np.asarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))[0, 0].astype(np.float32)


def _smooth_noise(rng: np.random.Generator, cells: int) -> np.ndarray:
    """(SIZE, SIZE) noise in [-1, 1] with about ``cells`` blobs per side."""
    small = rng.uniform(-1, 1, (cells, cells)).astype(np.float32)
    return cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _shade(base: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """(H, W, 3) image of ``base`` brightened/darkened by ``amount`` (H, W) in about [-1, 1]."""
    return np.clip(base[None, None, :] * (1.0 + 0.5 * amount[..., None]), 0, 255)


def _grid(period: float, offset: float, width: float) -> np.ndarray:
    """(SIZE,) bool: lines of ``width`` pixels every ``period`` pixels."""
    pos = (np.arange(SIZE) + offset) % period
    return pos < width


def stuff_texture(name: str, rng: np.random.Generator) -> np.ndarray:
    """(SIZE, SIZE, 3) float texture of a stuff category in a random colour."""
    base, other = _colour(rng), _colour(rng)
    grain = rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32)
    img = _shade(base, 0.1 * grain + 0.3 * _smooth_noise(rng, 3))
    period = float(rng.uniform(6, 16))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    if name == "road":  # smooth surface with a dashed lane marking
        img = _shade(base, 0.05 * grain + 0.15 * _smooth_noise(rng, 2))
        x = int(rng.integers(8, SIZE - 8))
        dash = ((ys + rng.integers(0, 20)) % 20) < 12
        img[(np.abs(xs - x - (ys - SIZE / 2) * rng.uniform(-0.4, 0.4)) < 2) & dash] = np.maximum(base, 200)
    elif name == "sidewalk":  # square tiles
        lines = _grid(period, rng.uniform(0, period), 1.5)
        img[lines[:, None] | lines[None, :]] *= 0.6
    elif name == "building":  # a grid of windows
        rows, cols = (
            _grid(period, rng.uniform(0, period), period * 0.5),
            _grid(period, rng.uniform(0, period), period * 0.45),
        )
        img[rows[:, None] & cols[None, :]] = other * 0.5
    elif name == "wall":  # bricks: mortar rows, joints offset every other row
        row = ((ys + rng.uniform(0, 8)) % (period / 2)) < 1.2
        course = ((ys + rng.uniform(0, 8)) // (period / 2)) % 2
        joint = ((xs + course * period / 2) % period) < 1.2
        img[row | joint] *= 0.55
    elif name == "fence":  # vertical slats in front of another texture
        back = _shade(other, 0.4 * _smooth_noise(rng, 4))
        slats = _grid(period * 0.7, rng.uniform(0, period), period * 0.35)
        img = np.where(slats[None, :, None], img, back)
        img[(((ys + rng.uniform(0, 20)) % 24) < 2)] = base * 0.7  # a rail
    elif name == "vegetation":  # foliage: many small leaf blobs in shades of the colour
        img = _shade(base, 0.6 * _smooth_noise(rng, 12))
        for _ in range(60):
            cx, cy, r = rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.uniform(1.5, 4)
            cv2.circle(img, (round(cx), round(cy)), round(r), tuple(float(v) for v in base * rng.uniform(0.5, 1.4)), -1)
    elif name == "terrain":  # coarse grain over blotches
        img = _shade(base, 0.35 * grain + 0.4 * _smooth_noise(rng, 5))
    elif name == "sky":  # a vertical gradient with soft clouds
        ramp = np.linspace(-0.6, 0.4, SIZE, dtype=np.float32)[:, None] * np.ones((1, SIZE), np.float32)
        img = _shade(base, ramp)
        clouds = np.clip(_smooth_noise(rng, 4), 0, 1)[..., None]
        img = img * (1 - clouds) + 235.0 * clouds
    return np.clip(img, 0, 255)


def _background(rng: np.random.Generator) -> np.ndarray:
    """Clutter behind an object: a random texture plus a few random rectangles and ellipses."""
    img = _shade(_colour(rng), 0.2 * rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32) + 0.5 * _smooth_noise(rng, 3))
    img = np.ascontiguousarray(img, dtype=np.float32)
    for _ in range(int(rng.integers(0, 5))):
        colour = tuple(float(v) for v in _colour(rng))
        x, y = (int(v) for v in rng.integers(0, SIZE, 2))
        a, b = (int(v) for v in rng.integers(3, 16, 2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + a, y + b), colour, -1)
        else:
            cv2.ellipse(img, (x, y), (a, b), float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return img


def _object(name: str, rng: np.random.Generator) -> np.ndarray:
    img = _background(rng)
    drawer, aspect = OBJECTS[name]
    aspect *= float(rng.uniform(0.8, 1.25))
    extent = float(rng.uniform(0.35, 0.9)) * SIZE  # the box's longer side
    w, h = (extent, extent / aspect) if aspect >= 1 else (extent * aspect, extent)
    x0, y0 = rng.uniform(-0.15 * w, SIZE - 0.85 * w), rng.uniform(-0.15 * h, SIZE - 0.85 * h)
    drawer(img, (x0, y0, x0 + w, y0 + h), _colour(rng), _colour(rng))
    return img


def sample(index: int, split: str = "train", seed: int = 0) -> tuple[np.ndarray, int]:
    """(uint8 RGB image (SIZE, SIZE, 3), class index) of sample ``index``; classes cycle with the index."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    label = index % len(CLASSES)
    rng = np.random.default_rng([seed, SPLITS[split], index])
    name = CLASSES[label]
    img = stuff_texture(name, rng) if name in STUFF else _object(name, rng)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    img = img * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30)  # exposure
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(np.ascontiguousarray(img), (0, 0), float(rng.uniform(0.5, 1.2)))
    img = img + rng.normal(0, rng.uniform(0, 8), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), label


def batch(indices: range | list[int], split: str = "train", seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, SIZE, SIZE, 3) uint8 images and (N,) int64 labels of ``indices``."""
    pairs = [sample(i, split, seed) for i in indices]
    return np.stack([p[0] for p in pairs]), np.array([p[1] for p in pairs], dtype=np.int64)
