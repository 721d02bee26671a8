"""The layout of one road scene as a label map and an instance map (no colours yet).

Painter's algorithm, far to near: sky above the horizon; ground bands (road, sidewalks, terrain
or vegetation) in perspective; facades along both sides (buildings, walls, fences, trees); then
objects sorted by depth: poles carrying traffic lights and signs, cars, trucks, buses, trains,
persons, riders on bicycles or motorcycles, parked two-wheelers. How often each object appears
is a per-domain Poisson rate, which gives GTA5's long tail (trains, motorcycles, bicycles,
riders and buses rare). Labels are train ids; 255 is left for the renderer's void regions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from trainer.data.synthetic.camera import Camera

ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = range(11)
PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE = range(11, 19)

DEFAULT_RATES: dict[str, float] = {"car": 4.0, "truck": 0.5, "bus": 0.25, "train": 0.12, "person": 1.5,
                                   "rider": 0.3, "bicycle": 0.2, "motorcycle": 0.15, "pole": 3.0}


@dataclass(frozen=True)
class SceneParams:
    """Per-domain geometry and object rates (Poisson means per image)."""

    horizon: float
    """Horizon row as a fraction of the image height."""
    cam_height: float
    rates: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATES))
    facade_mix: tuple[float, float, float, float] = (0.6, 0.1, 0.1, 0.2)
    """Probabilities of building, wall, fence, trees for a facade segment."""


@dataclass
class Canvas:
    """The label map and instance map being drawn, and the next instance id."""

    label: np.ndarray
    instance: np.ndarray
    next_id: int = 1

    def fill(self, polygon: np.ndarray, cls: int, inst: int = 0) -> None:
        cv2.fillPoly(self.label, [polygon], int(cls), lineType=cv2.LINE_8, shift=4)
        cv2.fillPoly(self.instance, [polygon], int(inst), lineType=cv2.LINE_8, shift=4)

    def new_instance(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def _box(cam: Camera, x: float, z: float, w: float, y0: float, y1: float) -> np.ndarray:
    """A fronto-parallel rectangle at depth z, centred at lateral x, spanning heights y0..y1."""
    return cam.quad([(x - w / 2, y0, z), (x + w / 2, y0, z), (x + w / 2, y1, z), (x - w / 2, y1, z)])


def draw_ground(canvas: Canvas, cam: Camera, road_w: float, walk_w: float, rng: np.random.Generator) -> None:
    """Sky, then the ground bands by the lateral coordinate each pixel sees."""
    gx = cam.ground_x()
    label = canvas.label
    label[:] = SKY
    below = ~np.isnan(gx)
    side_cls = [TERRAIN if rng.random() < 0.6 else VEGETATION for _ in range(2)]
    label[below & (gx < 0)] = side_cls[0]
    label[below & (gx >= 0)] = side_cls[1]
    label[below & (np.abs(gx) < road_w / 2 + walk_w)] = SIDEWALK
    label[below & (np.abs(gx) < road_w / 2)] = ROAD


def draw_facades(
    canvas: Canvas, cam: Camera, params: SceneParams, edge: float, rng: np.random.Generator
) -> None:
    """Segments along both sides from far to near, then a closing row of buildings far ahead."""
    far = 90.0
    canvas.fill(_box(cam, 0.0, far, 400.0, 0.0, float(rng.uniform(4, 16))), BUILDING)
    heights = {BUILDING: (6.0, 20.0), WALL: (1.5, 3.5), FENCE: (1.0, 2.0), VEGETATION: (4.0, 10.0)}
    for side in (-1.0, 1.0):
        x = side * (edge + float(rng.uniform(0.0, 6.0)))
        z, segments = far, []
        while z > 3.0:
            length = float(rng.uniform(6.0, 20.0))
            cls = int(rng.choice([BUILDING, WALL, FENCE, VEGETATION], p=params.facade_mix))
            segments.append((max(z - length, 2.0), z, cls, float(rng.uniform(*heights[cls]))))
            z -= length
        for z0, z1, cls, h in segments:
            canvas.fill(cam.quad([(x, 0.0, z0), (x, 0.0, z1), (x, h, z1), (x, h, z0)]), cls)


def _vehicle(canvas: Canvas, cam: Camera, x: float, z: float, cls: int, size: tuple[float, float]) -> None:
    """Body with a narrower cabin (car) or a full box (truck, bus, train)."""
    w, h = size
    inst = canvas.new_instance()
    if cls == CAR:
        canvas.fill(_box(cam, x, z, w, 0.2, 0.55 * h), cls, inst)
        canvas.fill(_box(cam, x, z, 0.75 * w, 0.55 * h, h), cls, inst)
    else:
        canvas.fill(_box(cam, x, z, w, 0.3, h), cls, inst)
        canvas.fill(_box(cam, x, z - 0.3, 0.8 * w, 0.0, 0.4), cls, inst)


def _person(canvas: Canvas, cam: Camera, x: float, z: float, cls: int, base: float = 0.0) -> None:
    inst = canvas.new_instance()
    canvas.fill(_box(cam, x, z, 0.45, base, base + 1.5), cls, inst)
    canvas.fill(_box(cam, x, z, 0.25, base + 1.5, base + 1.78), cls, inst)


def _two_wheeler(canvas: Canvas, cam: Camera, x: float, z: float, cls: int, rider: bool) -> None:
    """A bicycle or motorcycle seen from behind, with a rider on it or parked."""
    inst = canvas.new_instance()
    wide = 0.8 if cls == MOTORCYCLE else 0.55
    canvas.fill(_box(cam, x, z, 0.15, 0.0, 0.7), cls, inst)
    canvas.fill(_box(cam, x, z, wide, 0.7, 0.9 if cls == BICYCLE else 1.1), cls, inst)
    if rider:
        _person(canvas, cam, x, z - 0.05, RIDER, base=0.45)


def _pole(canvas: Canvas, cam: Camera, x: float, z: float, rng: np.random.Generator) -> None:
    h = float(rng.uniform(4.0, 7.0))
    canvas.fill(_box(cam, x, z, 0.18, 0.0, h), POLE)
    if rng.random() < 0.45:
        canvas.fill(_box(cam, x, z - 0.1, 0.4, h - 1.0, h), LIGHT, canvas.new_instance())
    if rng.random() < 0.55:
        y = float(rng.uniform(2.0, h - 1.2))
        canvas.fill(_box(cam, x, z - 0.1, 0.7, y, y + 0.7), SIGN, canvas.new_instance())


_SIZES = {CAR: (1.8, 1.5), TRUCK: (2.5, 3.3), BUS: (2.6, 3.3), TRAIN: (3.2, 3.9)}


def draw_objects(canvas: Canvas, cam: Camera, params: SceneParams, road_w: float, walk_w: float,
                 rng: np.random.Generator) -> None:
    """Place every object by its Poisson count, then draw them from far to near."""
    lane = road_w / 4
    walk = road_w / 2 + walk_w / 2
    placements: list[tuple[float, str, float]] = []
    for kind, rate in params.rates.items():
        for _ in range(int(rng.poisson(rate))):
            z = float(rng.uniform(5.0, 45.0))
            side = float(rng.choice([-1.0, 1.0]))
            if kind in ("person", "pole"):
                x = side * (walk + float(rng.uniform(-walk_w / 3, walk_w / 3)))
            elif kind in ("bicycle", "motorcycle"):
                x = side * (road_w / 2 + 0.5)
            elif kind == "rider":
                x = side * (road_w / 2 - 0.8)
            else:
                x = side * lane + float(rng.uniform(-0.4, 0.4))
            placements.append((z, kind, x))
    for z, kind, x in sorted(placements, reverse=True):
        if kind == "pole":
            _pole(canvas, cam, x, z, rng)
        elif kind == "person":
            _person(canvas, cam, x, z, PERSON)
        elif kind == "rider":
            _two_wheeler(canvas, cam, x, z, BICYCLE if rng.random() < 0.6 else MOTORCYCLE, rider=True)
        elif kind in ("bicycle", "motorcycle"):
            _two_wheeler(canvas, cam, x, z, BICYCLE if kind == "bicycle" else MOTORCYCLE, rider=False)
        else:
            cls = {"car": CAR, "truck": TRUCK, "bus": BUS, "train": TRAIN}[kind]
            _vehicle(canvas, cam, x, z, cls, _SIZES[cls])


def draw_scene(height: int, width: int, params: SceneParams, rng: np.random.Generator) -> Canvas:
    """A full scene: (H, W) uint8 train-id label map and int32 instance map (0 for stuff)."""
    cam = Camera(width, height, focal=float(rng.uniform(0.55, 0.7)) * width,
                 cx=width / 2 + float(rng.uniform(-0.05, 0.05)) * width,
                 horizon=(params.horizon + float(rng.uniform(-0.03, 0.03))) * height,
                 cam_height=params.cam_height)
    canvas = Canvas(np.zeros((height, width), np.uint8), np.zeros((height, width), np.int32))
    road_w, walk_w = float(rng.uniform(6.0, 12.0)), float(rng.uniform(2.0, 4.5))
    draw_ground(canvas, cam, road_w, walk_w, rng)
    draw_facades(canvas, cam, params, road_w / 2 + walk_w, rng)
    draw_objects(canvas, cam, params, road_w, walk_w, rng)
    return canvas
