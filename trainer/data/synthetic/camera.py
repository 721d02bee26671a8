"""A pinhole camera over a flat ground plane, the geometry every synthetic scene is drawn with.

World: X to the right, Y up from the ground, Z forward (metres). Image: u right, v down. The
horizon row and the camera height differ per domain, which is one part of the domain gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal: float
    """Focal length in pixels."""
    cx: float
    horizon: float
    """Image row of the horizon (the vanishing point's v)."""
    cam_height: float

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """(u, v) of world point (x, y, z), z > 0."""
        return self.cx + self.focal * x / z, self.horizon + self.focal * (self.cam_height - y) / z

    def quad(self, corners: list[tuple[float, float, float]]) -> np.ndarray:
        """Projected polygon as int32 (N, 2) points for cv2.fillPoly (sub-pixel bits: 4)."""
        pts = np.array([self.project(*c) for c in corners], dtype=np.float64)
        return np.round(pts * 16).astype(np.int32)

    def ground_x(self) -> np.ndarray:
        """(H, W) lateral ground coordinate X seen at each pixel; nan above the horizon."""
        v = np.arange(self.height, dtype=np.float64)[:, None] + 0.5
        u = np.arange(self.width, dtype=np.float64)[None, :] + 0.5
        dv = v - self.horizon
        z = np.where(dv > 0.5, self.focal * self.cam_height / np.maximum(dv, 0.5), np.nan)
        return (u - self.cx) * z / self.focal
