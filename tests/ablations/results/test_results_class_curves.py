"""The per-class curve figure: by default the classes that vary, all of them as a grid on request."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from ablations.results import CurvePoint, ExperimentInfo, TrialRecord, render_figure
from ablations.results.figures import default_curve_classes
from trainer.config import CITYSCAPES_CLASSES


def _trial(tid: int, values: dict[str, tuple[float, float]]) -> TrialRecord:
    """A trial evaluated at 100 and 200 with the given (first, second) IoU per class, 0 elsewhere."""
    curve = [CurvePoint(step, {c: values.get(c, (0.0, 0.0))[k] for c in CITYSCAPES_CLASSES}, 1.0)
             for k, step in enumerate((100, 200))]
    return TrialRecord(trial_id=tid, name=f"t{tid}", variant=f"v{tid}", sweep={}, seed=0, status="running",
                       curve=curve, total_steps=300)


@pytest.fixture
def info() -> ExperimentInfo:
    return ExperimentInfo(id=1, name="x", status="running", baseline=None, seeds_planned=[0],
                          eval_classes=list(CITYSCAPES_CLASSES))


def test_default_classes_are_the_ones_that_vary(info: ExperimentInfo) -> None:
    # spreads over both trials and steps (0 where a trial has no value): road 40 - 10 = 30, car 12 - 2 = 10,
    # sky 8 - 0 = 8, wall 1 - 0 = 1; rider and the others 0
    records = [_trial(1, {"road": (10, 30), "car": (2, 5), "wall": (1, 1)}),
               _trial(2, {"road": (20, 40), "car": (8, 12), "sky": (5, 8)})]
    assert default_curve_classes(info, records) == ["road", "car", "sky"]
    # one varying class: it alone; nothing varying (or nothing evaluated): the paper's rider, bicycle, train
    assert default_curve_classes(info, [_trial(1, {"bus": (0, 3)})]) == ["bus"]
    assert default_curve_classes(info, [_trial(1, {})]) == ["rider", "bicycle", "train"]
    assert default_curve_classes(info, []) == ["rider", "bicycle", "train"]


def test_all_classes_as_a_grid(info: ExperimentInfo) -> None:
    png = render_figure("class_curves", "png", info, [_trial(1, {"road": (10, 30)})], classes=["all"])
    # 19 panels in 5 columns x 4 rows at 100 dpi: (3.4 * 5 + 2) x (1 + 3 * 4) inches
    assert Image.open(io.BytesIO(png)).size == (1900, 1300)
    with pytest.raises(ValueError, match="or 'all'"):
        render_figure("class_curves", "png", info, [], classes=["lorry"])


def test_one_evaluation_is_drawn_as_points(info: ExperimentInfo) -> None:
    """A trial with a single evaluation (the per-trial figure logged to MLflow) shows a marker per
    panel instead of empty axes: 19 marker uses in the SVG, in a grid that fits a screen."""
    record = TrialRecord(trial_id=1, name="t", variant="v", sweep={}, seed=0, status="running",
                         curve=[CurvePoint(300, dict.fromkeys(CITYSCAPES_CLASSES, 12.5), 12.5)], total_steps=300)
    svg = render_figure("class_curves", "svg", info, [record], classes=list(CITYSCAPES_CLASSES)).decode()
    data_markers = re.findall(r'<use xlink:href="#m[0-9a-f]+" x="[^"]+" y="[^"]+" style="fill: #1f77b4', svg)
    assert len(data_markers) == 19
    png = render_figure("class_curves", "png", info, [record], classes=list(CITYSCAPES_CLASSES))
    assert Image.open(io.BytesIO(png)).size == (1900, 1300)  # was 8550 x 450: 19 panels in one row
