"""Silhouettes and textures of the ImageNet stand-in: one drawing function per category.

Every function draws into a float RGB canvas (H, W, 3) in [0, 255] with cv2 primitives, in a box
given by the caller (centre, size), with colours the caller draws. The shapes name the synthetic
world's classes (a car is a body with a cabin and wheels, a bicycle two rings and a frame) but
are drawn here from scratch, with wheels, windows, heads and plates the world's renderer does not
draw, in colours that are neither domain's palette: the stand-in teaches shapes and textures in
general, as ImageNet does, not the benchmark's look.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Colour = tuple[float, float, float]
Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in pixels."""


def _c(colour: np.ndarray) -> Colour:
    return float(colour[0]), float(colour[1]), float(colour[2])


def _rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour: np.ndarray) -> None:
    cv2.rectangle(img, (round(x0), round(y0)), (round(x1), round(y1)), _c(colour), thickness=-1)


def _disc(img: np.ndarray, x: float, y: float, r: float, colour: np.ndarray, thickness: int = -1) -> None:
    cv2.circle(img, (round(x), round(y)), max(1, round(r)), _c(colour), thickness=thickness)


def _line(img: np.ndarray, p: tuple[float, float], q: tuple[float, float], colour: np.ndarray, t: int) -> None:
    cv2.line(img, (round(p[0]), round(p[1])), (round(q[0]), round(q[1])), _c(colour), thickness=max(1, t))


def _poly(img: np.ndarray, points: list[tuple[float, float]], colour: np.ndarray) -> None:
    pts = np.round(np.array(points) * 16).astype(np.int32)
    cv2.fillPoly(img, [pts], _c(colour), lineType=cv2.LINE_AA, shift=4)


# ---- objects: (img, box, main colour, second colour) ---------------------------------------------
def car(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    _rect(img, x0, y0 + 0.45 * h, x1, y1 - 0.15 * h, c1)
    _poly(
        img,
        [
            (x0 + 0.2 * w, y0 + 0.45 * h),
            (x0 + 0.3 * w, y0 + 0.1 * h),
            (x1 - 0.25 * w, y0 + 0.1 * h),
            (x1 - 0.12 * w, y0 + 0.45 * h),
        ],
        c1,
    )
    _rect(img, x0 + 0.33 * w, y0 + 0.17 * h, x1 - 0.3 * w, y0 + 0.4 * h, c2)  # window
    for cx in (x0 + 0.22 * w, x1 - 0.22 * w):
        _disc(img, cx, y1 - 0.15 * h, 0.14 * w, np.array([20.0, 20.0, 20.0]))


def truck(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    _rect(img, x0, y0, x0 + 0.68 * w, y1 - 0.15 * h, c1)  # cargo box
    _rect(img, x0 + 0.7 * w, y0 + 0.35 * h, x1, y1 - 0.15 * h, c2)  # cab
    _rect(img, x0 + 0.78 * w, y0 + 0.42 * h, x1 - 0.04 * w, y0 + 0.6 * h, c1 * 0.4)
    for cx in (x0 + 0.15 * w, x0 + 0.5 * w, x1 - 0.15 * w):
        _disc(img, cx, y1 - 0.12 * h, 0.09 * w, np.array([20.0, 20.0, 20.0]))


def bus(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    _rect(img, x0, y0 + 0.1 * h, x1, y1 - 0.12 * h, c1)
    for i in range(5):
        wx = x0 + (0.06 + 0.18 * i) * w
        _rect(img, wx, y0 + 0.22 * h, wx + 0.13 * w, y0 + 0.45 * h, c2)
    for cx in (x0 + 0.18 * w, x1 - 0.18 * w):
        _disc(img, cx, y1 - 0.12 * h, 0.08 * w, np.array([20.0, 20.0, 20.0]))


def train(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    _poly(
        img,
        [
            (x0, y0 + 0.15 * h),
            (x1 - 0.15 * w, y0 + 0.15 * h),
            (x1, y0 + 0.5 * h),
            (x1, y1 - 0.15 * h),
            (x0, y1 - 0.15 * h),
        ],
        c1,
    )
    _rect(img, x0, y0 + 0.55 * h, x1, y0 + 0.62 * h, c2)  # stripe
    for i in range(4):
        wx = x0 + (0.05 + 0.2 * i) * w
        _rect(img, wx, y0 + 0.25 * h, wx + 0.12 * w, y0 + 0.45 * h, c2)
    _line(
        img,
        (x0 - 0.1 * w, y1 - 0.05 * h),
        (x1 + 0.1 * w, y1 - 0.05 * h),
        np.array([60.0, 50.0, 40.0]),
        max(1, round(0.04 * h)),
    )  # rail


def person(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    _disc(img, cx, y0 + 0.1 * h, 0.09 * h, np.array([200.0, 160.0, 130.0]) * (0.6 + 0.4 * c2 / 255))
    _rect(img, cx - 0.3 * w, y0 + 0.2 * h, cx + 0.3 * w, y0 + 0.58 * h, c1)  # torso
    _rect(img, cx - 0.28 * w, y0 + 0.58 * h, cx - 0.04 * w, y1, c2)  # legs
    _rect(img, cx + 0.04 * w, y0 + 0.58 * h, cx + 0.28 * w, y1, c2)


def _wheels(img: np.ndarray, b: Box, colour: np.ndarray, filled: bool) -> tuple[float, float, float]:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    r = min(0.22 * w, 0.3 * h)
    wy = y1 - r
    for cx in (x0 + r, x1 - r):
        _disc(img, cx, wy, r, colour, -1 if filled else max(1, round(0.25 * r)))
    return r, wy, w


def bicycle(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    r, wy, w = _wheels(img, b, np.array([25.0, 25.0, 25.0]), filled=False)
    x0, x1 = b[0], b[2]
    t = max(1, round(0.05 * w))
    top = wy - 1.3 * r
    _line(img, (x0 + r, wy), ((x0 + x1) / 2, top), c1, t)
    _line(img, ((x0 + x1) / 2, top), (x1 - r, wy), c1, t)
    _line(img, (x0 + r, wy), (x1 - r, wy), c1, t)


def motorcycle(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    r, wy, w = _wheels(img, b, np.array([25.0, 25.0, 25.0]), filled=True)
    x0, x1 = b[0], b[2]
    _poly(
        img,
        [
            (x0 + 0.6 * r, wy - 0.6 * r),
            (x0 + 0.4 * w, wy - 1.5 * r),
            (x1 - 0.3 * w, wy - 1.6 * r),
            (x1 - 0.5 * r, wy - 0.7 * r),
        ],
        c1,
    )
    _rect(img, x0 + 0.35 * w, wy - 1.9 * r, x0 + 0.6 * w, wy - 1.5 * r, c2)  # seat


def rider(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    h = y1 - y0
    bicycle(img, (x0, y0 + 0.45 * h, x1, y1), c2 * 0.5, c2)
    cx, w = (x0 + x1) / 2, 0.45 * (x1 - x0)
    person(img, (cx - w / 2, y0, cx + w / 2, y0 + 0.7 * h), c1, c2)


def traffic_light(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    _rect(img, cx - 0.06 * w, y0 + 0.5 * h, cx + 0.06 * w, y1, np.array([90.0, 90.0, 90.0]))
    _rect(img, cx - 0.25 * w, y0, cx + 0.25 * w, y0 + 0.55 * h, c1 * 0.3)
    lamps = (np.array([230.0, 40.0, 30.0]), np.array([240.0, 190.0, 30.0]), np.array([40.0, 210.0, 80.0]))
    for i, lamp in enumerate(lamps):
        _disc(img, cx, y0 + (0.1 + 0.17 * i) * h, 0.07 * h, lamp * (0.35 + 0.65 * (i == int(c2[0]) % 3)))


def traffic_sign(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    _rect(img, cx - 0.05 * w, y0 + 0.4 * h, cx + 0.05 * w, y1, np.array([110.0, 110.0, 110.0]))
    kind, r = int(c2[1]) % 3, 0.3 * min(w, h) + 1
    cy = y0 + r
    if kind == 0:
        _disc(img, cx, cy, r, c1)
        _disc(img, cx, cy, 0.65 * r, c2)
    elif kind == 1:
        _poly(img, [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)], c1)
    else:
        _rect(img, cx - r, cy - r, cx + r, cy + r, c1)
        _rect(img, cx - 0.6 * r, cy - 0.15 * r, cx + 0.6 * r, cy + 0.15 * r, c2)


def pole(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, _, x1, _ = b
    cx, w = (x0 + x1) / 2, 0.12 * (x1 - x0) + 1
    _rect(img, cx - w / 2, 0, cx + w / 2, img.shape[0], c1)


# ---- distractors: categories that are in neither domain --------------------------------------------
def ball(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    r = 0.5 * min(x1 - x0, y1 - y0)
    _disc(img, (x0 + x1) / 2, (y0 + y1) / 2, r, c1)
    _disc(img, (x0 + x1) / 2 - 0.3 * r, (y0 + y1) / 2 - 0.3 * r, 0.25 * r, np.minimum(c1 + 80, 255))


def star(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, 0.5 * min(x1 - x0, y1 - y0)
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, r, 0.42 * r)
    _poly(img, [(cx + rr * np.cos(a), cy - rr * np.sin(a)) for a, rr in zip(angles, radii, strict=True)], c1)


def ring(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    r = 0.5 * min(x1 - x0, y1 - y0)
    _disc(img, (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * r, c1, thickness=max(1, round(0.3 * r)))


def cross(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    _rect(img, x0 + 0.38 * w, y0, x1 - 0.38 * w, y1, c1)
    _rect(img, x0, y0 + 0.38 * h, x1, y1 - 0.38 * h, c1)


def arrow(img: np.ndarray, b: Box, c1: np.ndarray, c2: np.ndarray) -> None:
    x0, y0, x1, y1 = b
    w, h = x1 - x0, y1 - y0
    _rect(img, x0, y0 + 0.38 * h, x0 + 0.55 * w, y1 - 0.38 * h, c1)
    _poly(img, [(x0 + 0.5 * w, y0 + 0.1 * h), (x1, y0 + 0.5 * h), (x0 + 0.5 * w, y1 - 0.1 * h)], c1)


Drawer = Callable[[np.ndarray, Box, np.ndarray, np.ndarray], None]
OBJECTS: dict[str, tuple[Drawer, float]] = {
    # name: (drawer, width / height of its box)
    "pole": (pole, 0.5), "traffic_light": (traffic_light, 0.45), "traffic_sign": (traffic_sign, 0.6),
    "person": (person, 0.42), "rider": (rider, 0.7), "car": (car, 1.6), "truck": (truck, 1.5),
    "bus": (bus, 2.0), "train": (train, 2.4), "motorcycle": (motorcycle, 1.4), "bicycle": (bicycle, 1.5),
    "ball": (ball, 1.0), "star": (star, 1.0), "ring": (ring, 1.0), "cross": (cross, 1.0), "arrow": (arrow, 1.3),
}  # fmt: skip
