"""The plain records that result tables, figures and the report page are computed from.

The service reads its database rows and hands them over as these frozen dataclasses, so the
results code never sees SQL and can be tested with hand-written records. Values are validated
once here (status names, class names, IoU in percent 0..100 as in the paper's tables), so a
bad row fails with a message naming the trial and the field instead of a wrong table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from trainer.config import CITYSCAPES_CLASSES

TRIAL_STATUSES: tuple[str, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
"""Every state a trial can be in; only "succeeded" trials count towards a table's numbers."""

ACTIVE_STATUSES: frozenset[str] = frozenset({"queued", "running"})
"""States in which a trial may still change, so a row holding one is partial."""


class CurvePoint(NamedTuple):
    """One evaluation of a trial: its iteration, the IoU of every class and the mIoU (percent)."""

    step: int
    per_class: Mapping[str, float]
    miou: float


def _check_percent(value: float, where: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number (IoU in percent), got {value!r}")
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{where}: expected an IoU in percent (0..100), got {value!r}")


_CLASS_SET = frozenset(CITYSCAPES_CLASSES)


def _all_valid(per_class: Mapping[str, float]) -> bool:
    """The common case in one pass without building messages: known names, floats in 0..100."""
    return per_class.keys() <= _CLASS_SET and all(
        type(v) is float and 0.0 <= v <= 100.0 for v in per_class.values()  # noqa: E721 (no bool, no NaN)
    )


def _check_per_class(per_class: Mapping[str, float], where: str) -> None:
    if _all_valid(per_class):
        return
    for name, value in per_class.items():
        if name not in CITYSCAPES_CLASSES:
            raise ValueError(f"{where}: unknown class {name!r}; expected one of {list(CITYSCAPES_CLASSES)}")
        _check_percent(value, f"{where}[{name!r}]")


@dataclass(frozen=True)
class TrialRecord:
    """One trial (a variant, its sweep values and one seed) as stored by the service.

    ``final_*`` hold the last iteration's evaluation, which is the number the paper reports;
    ``best_*`` the best evaluated iteration, shown beside it for reference only.
    ``current_step``/``total_steps`` drive the progress bar of running trials (optional).
    """

    trial_id: str | int
    name: str
    variant: str
    sweep: Mapping[str, Any]
    seed: int
    status: str
    final_miou: float | None = None
    final_per_class: Mapping[str, float] | None = None
    best_miou: float | None = None
    best_step: int | None = None
    final_step: int | None = None
    curve: Sequence[CurvePoint] = ()
    current_step: int | None = None
    total_steps: int | None = None

    def __post_init__(self) -> None:
        where = f"trial {self.trial_id!r} ({self.name})"
        if self.status not in TRIAL_STATUSES:
            raise ValueError(f"{where}: status {self.status!r} is not one of {list(TRIAL_STATUSES)}")
        for attr in ("final_miou", "best_miou"):
            value = getattr(self, attr)
            if value is not None:
                _check_percent(value, f"{where}: {attr}")
        if self.final_per_class is not None:
            _check_per_class(self.final_per_class, f"{where}: final_per_class")
        points = []
        for index, point in enumerate(self.curve):
            if len(point) != 3:
                raise ValueError(f"{where}: curve[{index}] must be (step, per_class, miou), got {point!r}")
            step, per_class, miou = point
            _check_per_class(per_class, f"{where}: curve[{index}].per_class")
            _check_percent(miou, f"{where}: curve[{index}].miou")
            points.append(CurvePoint(int(step), dict(per_class), float(miou)))
        object.__setattr__(self, "curve", tuple(sorted(points, key=lambda p: p.step)))
        object.__setattr__(self, "sweep", dict(self.sweep))
        if self.status == "succeeded" and self.final_miou is None:
            raise ValueError(f"{where}: status 'succeeded' needs final_miou")

    @property
    def finished(self) -> bool:
        """True when the trial succeeded, so its final numbers count towards the tables."""
        return self.status == "succeeded" and self.final_miou is not None

    @property
    def latest_step(self) -> int | None:
        """The furthest iteration known: the progress row, the final step or the last evaluation."""
        steps = [s for s in (self.current_step, self.final_step) if s is not None]
        if self.curve:
            steps.append(self.curve[-1].step)
        return max(steps) if steps else None

    @property
    def latest_miou(self) -> float | None:
        """The final mIoU when finished, else the last evaluated mIoU (shown as progress only)."""
        if self.final_miou is not None:
            return self.final_miou
        return self.curve[-1].miou if self.curve else None


@dataclass(frozen=True)
class ExperimentInfo:
    """The experiment a set of trials belongs to: what was planned and what to compare against.

    ``baseline`` names the row deltas are taken against (a variant name or a row label);
    ``published`` maps row labels (or variant names) to the paper's mIoU; ``eval_classes`` are
    the classes the mIoU is averaged over (19 for Cityscapes, 16 from SYNTHIA).
    """

    id: str | int
    name: str
    status: str
    baseline: str | None = None
    seeds_planned: Sequence[int] = ()
    published: Mapping[str, float] | None = None
    eval_classes: Sequence[str] = field(default_factory=lambda: list(CITYSCAPES_CLASSES))

    def __post_init__(self) -> None:
        where = f"experiment {self.id!r}"
        if not self.eval_classes:
            raise ValueError(f"{where}: eval_classes is empty; expected Cityscapes class names")
        for name in self.eval_classes:
            if name not in CITYSCAPES_CLASSES:
                raise ValueError(f"{where}: eval_classes has unknown class {name!r}")
        for row, value in (self.published or {}).items():
            _check_percent(value, f"{where}: published[{row!r}]")
        object.__setattr__(self, "eval_classes", tuple(self.eval_classes))
        object.__setattr__(self, "seeds_planned", tuple(self.seeds_planned))
