"""The figures are valid PNG and SVG, and bad names or classes fail with the valid choices."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from ablations.results import FIGURE_NAMES, ExperimentInfo, TrialRecord, render_figure


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_png_and_svg_bytes(name: str, info: ExperimentInfo, records: list[TrialRecord]) -> None:
    png = render_figure(name, "png", info, records)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.size[0] >= 400 and image.size[1] >= 300
    svg = render_figure(name, "svg", info, records)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_empty_figures_say_so(info: ExperimentInfo) -> None:
    # matplotlib draws text as paths and keeps the string in an SVG comment beside it.
    expected = {
        "miou_curves": "no evaluations yet",
        "class_curves": "no evaluations yet",
        "ablation_bars": "no finished trials yet",
    }
    for name, message in expected.items():
        assert message in render_figure(name, "svg", info, []).decode()


def test_class_curves_draw_the_chosen_classes(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    svg = render_figure("class_curves", "svg", info, records, classes=["train", "bus"]).decode()
    assert "IoU of train" in svg and "IoU of bus" in svg and "IoU of rider" not in svg
    default = render_figure("class_curves", "svg", info, records).decode()
    assert all(f"IoU of {name}" in default for name in ("rider", "bicycle", "train"))
    assert "no_fd (running)" in default and "seed 2" in default


def test_unknown_figure_lists_the_valid_ones(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    with pytest.raises(
        ValueError, match=r"unknown figure 'pie'.*'miou_curves', 'class_curves', 'ablation_bars'"
    ):
        render_figure("pie", "png", info, records)
    with pytest.raises(ValueError, match=r"unknown figure format 'jpg'"):
        render_figure("miou_curves", "jpg", info, records)


def test_class_not_evaluated_is_refused(records: list[TrialRecord]) -> None:
    synthia = ExperimentInfo(id=1, name="s", status="running", eval_classes=["road", "rider"])
    with pytest.raises(ValueError, match=r"classes: \['train'\] not among the evaluated classes"):
        render_figure("class_curves", "png", synthia, records, classes=["train"])
