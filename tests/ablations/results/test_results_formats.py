"""The table renderings: LaTeX booktabs, parseable CSV, Markdown and JSON."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ablations.results import ExperimentInfo, TrialRecord, render_table
from ablations.results.formats import latex_escape


def test_latex_is_a_booktabs_table_with_bold_best_and_escapes(
    info: ExperimentInfo, records: list[TrialRecord]
) -> None:
    latex = render_table("ablation", "latex", info, records)
    assert isinstance(latex, str)
    lines = latex.splitlines()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert lines.count(rule) == 1
    top, mid, bottom = (lines.index(r) for r in (r"\toprule", r"\midrule", r"\bottomrule"))
    assert top < mid < bottom and bottom - mid - 1 == 3  # one line per row
    assert lines[top + 1].startswith("Row & mIoU & ") and lines[top + 1].endswith(r"\\")
    assert r"\begin{tabular}{lccccccc}" in lines
    body = lines[mid + 1 : bottom]
    assert body[0].startswith(r"\textbf{daformer} & \textbf{62.0 $\pm$ 2.0} & ")
    assert body[1].startswith(r"no\_rcs & 56.0 $\pm$ 1.0 & ")
    assert r"$-$6.0" in body[1]
    assert "70.0 (partial)" in body[2] and r"\textbf" not in body[2]
    assert "±" not in latex and "ttest\\_ind" in latex


def test_latex_escape_special_characters() -> None:
    assert latex_escape("a_b & 50% #1 {x} $") == r"a\_b \& 50\% \#1 \{x\} \$"
    assert latex_escape("<0.001 — Δ") == r"$<$0.001 -- $\Delta$"
    assert latex_escape("-1.5 vs mit-b5") == r"$-$1.5 vs mit-b5"


def test_csv_is_parseable_with_the_raw_numbers(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    text = render_table("ablation", "csv", info, records)
    assert isinstance(text, str)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["row"] for r in rows] == ["daformer", "no_rcs", "no_fd"]
    assert float(rows[0]["miou_mean"]) == pytest.approx(62.0)
    assert float(rows[1]["delta"]) == pytest.approx(-6.0)
    assert rows[2]["miou_std"] == "" and rows[2]["partial"] == "true"
    assert json.loads(rows[0]["final_mious"]) == [60.0, 62.0, 64.0]


def test_per_class_csv_flattens_class_columns(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    text = render_table("per_class", "csv", info, records)
    assert isinstance(text, str)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert float(rows[0]["iou.rider.mean"]) == pytest.approx(34.0)
    assert float(rows[0]["iou.traffic light.std"]) == pytest.approx(2.0)


def test_markdown_table_shape(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    text = render_table("ablation", "markdown", info, records)
    assert isinstance(text, str)
    lines = text.splitlines()
    assert lines[0] == "**training strategies: ablation (mIoU, %)**"
    header, rule = lines[2], lines[3]
    n_columns = header.count(" | ") + 1
    assert n_columns == 8 and rule.count("|") == n_columns + 1
    table_rows = [line for line in lines[4:] if line.startswith("| ")]
    assert len(table_rows) == 3
    assert table_rows[0].startswith("| **daformer** | **62.0 ± 2.0** |")
    assert "| 70.0 (partial) |" in table_rows[2]
    assert any(line.startswith("- p: Welch") for line in lines)


def test_markdown_escapes_pipes(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    renamed = [
        TrialRecord(**{**r.__dict__, "variant": "a|b"}) if r.variant == "no_rcs" else r for r in records
    ]
    text = render_table("ablation", "markdown", info, renamed)
    assert isinstance(text, str)
    assert "| a\\|b |" in text


def test_json_is_serialisable_and_display_rows_match_rows(
    info: ExperimentInfo, records: list[TrialRecord]
) -> None:
    for kind in ("ablation", "per_class", "architecture"):
        table = render_table(kind, "json", info, records)
        assert isinstance(table, dict)
        assert json.loads(json.dumps(table, allow_nan=False)) == table
        assert len(table["display_rows"]) == len(table["rows"])
        assert all(len(r["cells"]) == len(table["columns"]) for r in table["display_rows"])
