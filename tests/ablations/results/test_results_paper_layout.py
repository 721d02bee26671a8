"""Tables as a paper prints them: the per-class LaTeX layout that fits a page, footnotes only for
what is in the table, and the architecture table of a one-architecture grid (the quickstart)."""

from __future__ import annotations

from collections.abc import Callable

from ablations.results import ExperimentInfo, TrialRecord, render_table
from ablations.results.formats import CLASS_ABBREVIATIONS
from ablations.results.tables import PARTIAL_NOTE, ablation_table, architecture_table, per_class_table
from trainer.config import CITYSCAPES_CLASSES

MakeTrial = Callable[..., TrialRecord]


def per_class(miou: float, **overrides: float) -> dict[str, float]:
    return {**dict.fromkeys(CITYSCAPES_CLASSES, miou), **overrides}


def _quickstart(make_trial: MakeTrial) -> list[TrialRecord]:
    return [make_trial(v, s, m + s) for v, m in (("source_only", 14.0), ("dacs", 17.0), ("daformer", 16.0))
            for s in (0, 1, 2)]


def test_per_class_latex_fits_a_page(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [make_trial("daformer", s, 60.0 + s, classes=per_class(60.0 + s, rider=20.0 + s)) for s in (0, 1, 2)]
    latex = render_table("per_class", "latex", info, records)
    assert isinstance(latex, str)
    lines = latex.splitlines()
    assert r"\begin{table*}[t]" in lines and r"\resizebox{\textwidth}{!}{%" in lines
    assert r"\end{tabular}}" in lines and lines[-1] == r"\end{table*}"
    header = lines[lines.index(r"\toprule") + 1]
    assert header.count(r"\rotatebox{90}") == 19 and r"\rotatebox{90}{Rider$^\dagger$}" in header
    assert r"\rotatebox{90}{S.walk}" in header and r"\rotatebox{90}{Tr.Light*}" in header
    row = lines[lines.index(r"\midrule") + 1].split(" & ")
    # means over seeds 0..2: rider (20, 21, 22) -> 21.0, other classes (60, 61, 62) -> 61.0
    assert row[0] == "daformer" and row[13] == r"\textbf{21.0}" and row[-1] == r"\textbf{61.0} \\"
    assert "$\\pm$" not in latex and "std is in the CSV/JSON" in latex
    assert set(CLASS_ABBREVIATIONS) == set(CITYSCAPES_CLASSES)


def test_partial_note_only_under_a_partial_table(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    done = [make_trial("daformer", s, 60.0) for s in (0, 1, 2)]
    for build in (ablation_table, per_class_table, architecture_table):
        assert PARTIAL_NOTE not in build(info, done).footnotes
    running = [*done, make_trial("no_fd", 0, 50.0), make_trial("no_fd", 1, status="running")]
    assert PARTIAL_NOTE in ablation_table(info, running).footnotes
    assert PARTIAL_NOTE in per_class_table(info, running).footnotes


def test_one_architecture_grid_puts_each_method_in_the_uda_column(
    info: ExperimentInfo, make_trial: MakeTrial
) -> None:
    view = architecture_table(info, _quickstart(make_trial))
    # source_only seeds 14, 15, 16 -> 15.0 ± 1.0; dacs 17, 18, 19 -> 18.0 ± 1.0; daformer 16, 17, 18 -> 17.0 ± 1.0
    assert [r.cells for r in view.rows] == [
        ("dacs", "15.0 ± 1.0", "18.0 ± 1.0", "—", "—"),
        ("daformer", "15.0 ± 1.0", "17.0 ± 1.0", "—", "—"),
    ]
    with_oracle = [*_quickstart(make_trial), *(make_trial("oracle", s, 30.0) for s in (0, 1, 2))]
    rows = architecture_table(info, with_oracle).rows
    assert rows[0].cells[3:] == ("30.0 ± 0.0", f"{100 * 18.0 / 30.0:.1f}%")
