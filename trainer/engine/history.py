"""The evaluations of a run so far: the latest and the best, saved in checkpoints for resume."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EvalPoint:
    """One evaluation: its step, the per-class IoU and the mIoU (percent)."""

    step: int
    per_class_iou: dict[str, float]
    miou: float


@dataclass
class EvalHistory:
    """Every evaluation of the run, in order; ``best_*`` ignores a NaN mIoU."""

    points: list[EvalPoint] = field(default_factory=list)

    def add(self, step: int, per_class_iou: dict[str, float], miou: float) -> None:
        self.points.append(EvalPoint(step, dict(per_class_iou), float(miou)))

    @property
    def last(self) -> EvalPoint | None:
        return self.points[-1] if self.points else None

    @property
    def _best(self) -> EvalPoint | None:
        scored = [p for p in self.points if not math.isnan(p.miou)]
        return max(scored, key=lambda p: p.miou) if scored else None  # first of equal maxima

    @property
    def best_miou(self) -> float | None:
        best = self._best
        return None if best is None else best.miou

    @property
    def best_step(self) -> int | None:
        best = self._best
        return None if best is None else best.step

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [
                {"step": p.step, "per_class_iou": p.per_class_iou, "miou": p.miou} for p in self.points
            ]
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalHistory:
        return cls(
            [EvalPoint(int(p["step"]), dict(p["per_class_iou"]), float(p["miou"])) for p in data["points"]]
        )
