"""Hand-written trial records for the results tests: small numbers that are easy to check by hand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ablations.results import CurvePoint, ExperimentInfo, TrialRecord
from trainer.config import CITYSCAPES_CLASSES

MakeTrial = Callable[..., TrialRecord]


def per_class(miou: float, **overrides: float) -> dict[str, float]:
    """All 19 classes at ``miou`` except the overridden ones (keys with spaces as underscores)."""
    values = dict.fromkeys(CITYSCAPES_CLASSES, miou)
    values.update({k.replace("_", " "): v for k, v in overrides.items()})
    return values


@pytest.fixture
def make_trial() -> MakeTrial:
    """Factory of a trial; a succeeded one gets a 3-point curve ending at its final mIoU."""
    counter = iter(range(1, 10_000))

    def make(
        variant: str,
        seed: int,
        final: float | None = None,
        status: str = "succeeded",
        sweep: dict[str, Any] | None = None,
        best: tuple[float, int] | None = None,
        classes: dict[str, float] | None = None,
        curve: Sequence[CurvePoint] | None = None,
        total_steps: int | None = 3000,
    ) -> TrialRecord:
        trial_id = next(counter)
        if curve is None and final is not None:
            curve = [
                CurvePoint(1000, per_class(final / 2), final / 2),
                CurvePoint(2000, per_class(final - 1), final - 1),
                CurvePoint(3000, classes or per_class(final), final),
            ]
        done = status == "succeeded"
        best_miou, best_step = best if best else (final, 3000)
        return TrialRecord(
            trial_id=trial_id,
            name=f"{variant}-seed{seed}",
            variant=variant,
            sweep=sweep or {},
            seed=seed,
            status=status,
            final_miou=final if done else None,
            final_per_class=(classes or per_class(final)) if done and final is not None else None,
            best_miou=best_miou if done else None,
            best_step=best_step if done else None,
            final_step=3000 if done else None,
            curve=curve or (),
            total_steps=total_steps,
        )

    return make


@pytest.fixture
def info() -> ExperimentInfo:
    return ExperimentInfo(
        id=7,
        name="training strategies",
        status="succeeded",
        baseline="daformer",
        seeds_planned=[0, 1, 2],
        published={"daformer": 68.3},
        eval_classes=list(CITYSCAPES_CLASSES),
    )


@pytest.fixture
def records(make_trial: MakeTrial) -> list[TrialRecord]:
    """daformer 60/62/64 (mean 62, std 2), no_rcs 55/56/57 (mean 56, std 1), no_fd 1 of 3 seeds."""
    return [
        make_trial("daformer", 0, 60.0, best=(61.0, 2000), classes=per_class(60.0, rider=30.0)),
        make_trial("daformer", 1, 62.0, best=(62.0, 3000), classes=per_class(62.0, rider=34.0)),
        make_trial("daformer", 2, 64.0, best=(64.5, 2000), classes=per_class(64.0, rider=38.0)),
        make_trial("no_rcs", 0, 55.0, classes=per_class(55.0, rider=20.0)),
        make_trial("no_rcs", 1, 56.0, classes=per_class(56.0, rider=21.0)),
        make_trial("no_rcs", 2, 57.0, classes=per_class(57.0, rider=22.0)),
        make_trial("no_fd", 0, 70.0),
        make_trial("no_fd", 1, None, status="running", curve=[CurvePoint(1000, per_class(30.0), 30.0)]),
        make_trial("no_fd", 2, None, status="queued"),
    ]
