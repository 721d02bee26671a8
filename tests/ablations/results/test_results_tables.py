"""The ablation, per-class and architecture tables computed from hand-written records."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import MakeTrial, per_class
from scipy import stats as scipy_stats

from ablations.results import ExperimentInfo, TrialRecord, render_table
from ablations.results.tables import ablation_table, architecture_table, per_class_table


def _rows(table: Any) -> dict[str, dict[str, Any]]:
    return {row["row"]: row for row in table["rows"]}


def _cells(table: Any) -> dict[str, list[str]]:
    return {row["cells"][0]: row["cells"] for row in table["display_rows"]}


def test_ablation_rows_mean_std_delta_and_welch_p(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    table = render_table("ablation", "json", info, records)
    rows = _rows(table)
    assert list(rows) == ["daformer", "no_rcs", "no_fd"]  # order of first appearance
    base, no_rcs = rows["daformer"], rows["no_rcs"]
    assert (base["miou_mean"], base["miou_std"]) == pytest.approx((62.0, 2.0))
    assert base["is_baseline"] and base["delta"] is None and base["p_value"] is None
    assert (no_rcs["miou_mean"], no_rcs["miou_std"]) == pytest.approx((56.0, 1.0))
    assert no_rcs["delta"] == pytest.approx(-6.0)
    # Welch: se^2 = 1/3 + 4/3, t = 6 / sqrt(5/3), df = 50/17 (see test_results_stats).
    expected_p = 2.0 * scipy_stats.t.sf(6.0 / math.sqrt(5.0 / 3.0), 50.0 / 17.0)
    assert no_rcs["p_value"] == pytest.approx(expected_p, rel=1e-9)
    cells = _cells(table)
    assert cells["daformer"][:6] == [
        "daformer",
        "62.0 ± 2.0",
        "best 62.5 @ 2000/3000",
        "3/3",
        "baseline",
        "—",
    ]
    assert cells["no_rcs"][1] == "56.0 ± 1.0"
    assert cells["no_rcs"][4] == "-6.0"
    assert cells["no_rcs"][5] == f"{expected_p:.3f}"
    assert any("Welch" in note and "equal_var=False" in note for note in table["footnotes"])


def test_partial_row_is_marked_and_never_best(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    table = render_table("ablation", "json", info, records)
    no_fd = _rows(table)["no_fd"]
    assert no_fd["partial"] and no_fd["state"] == "partial"
    assert (no_fd["seeds_finished"], no_fd["seeds_planned"], no_fd["running"], no_fd["queued"]) == (
        1,
        3,
        1,
        1,
    )
    assert no_fd["miou_mean"] == pytest.approx(70.0) and no_fd["miou_std"] is None
    assert no_fd["p_value"] is None  # one seed: no noise estimate
    cells = _cells(table)["no_fd"]
    assert cells[1] == "70.0 (partial)"
    assert cells[3] == "1/3 (1 running, 1 queued)"
    assert cells[5] == "n/a"
    bold = {r["cells"][0]: r["bold"] for r in table["display_rows"]}
    assert bold == {"daformer": [0, 1], "no_rcs": [], "no_fd": []}  # 70.0 is partial, so 62.0 wins


def test_row_of_only_running_trials_has_no_number(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [make_trial("a", 0, None, status="running"), make_trial("b", 0, None, status="failed")]
    rows = _rows(render_table("ablation", "json", info, records))
    assert rows["a"]["state"] == "running" and rows["a"]["miou_mean"] is None
    assert rows["b"]["state"] == "failed"
    assert _cells(render_table("ablation", "json", info, records))["b"][3] == "0/3 (1 failed)"


def test_failed_seed_makes_the_row_partial(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [
        make_trial("daformer", 0, 60.0),
        make_trial("daformer", 1, 62.0),
        make_trial("daformer", 2, None, status="failed"),
    ]
    row = _rows(render_table("ablation", "json", info, records))["daformer"]
    assert row["partial"] and row["seeds_finished"] == 2 and row["failed"] == 1
    assert row["miou_mean"] == pytest.approx(61.0)


def test_cancelled_seeds_are_counted_as_cancelled_not_failed(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [
        make_trial("daformer", 0, 60.0),
        make_trial("daformer", 1, None, status="cancelled"),
        make_trial("daformer", 2, None, status="failed"),
        make_trial("no_fd", 0, None, status="cancelled"),
    ]
    table = render_table("ablation", "json", info, records)
    row = _rows(table)["daformer"]
    assert (row["failed"], row["cancelled"], row["seeds_finished"]) == (1, 1, 1)
    assert _cells(table)["daformer"][3] == "1/3 (1 failed, 1 cancelled)"
    assert _rows(table)["no_fd"]["state"] == "cancelled"
    assert _cells(table)["no_fd"][3] == "0/3 (1 cancelled)"


def test_paper_column_and_difference(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    table = render_table("ablation", "json", info, records)
    assert [c["title"] for c in table["columns"]][-2:] == ["Paper", "Ours − paper"]
    base = _rows(table)["daformer"]
    assert base["paper"] == pytest.approx(68.3) and base["paper_diff"] == pytest.approx(-6.3)
    assert _cells(table)["daformer"][-2:] == ["68.3", "-6.3"]
    assert _rows(table)["no_rcs"]["paper"] is None
    plain = ExperimentInfo(id=1, name="x", status="succeeded", baseline="daformer", seeds_planned=[0, 1, 2])
    assert "Paper" not in [c["title"] for c in render_table("ablation", "json", plain, records)["columns"]]


def test_sweep_values_make_separate_rows(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [
        make_trial("rcs", seed, 60.0 + seed, sweep={"uda.rcs.temperature": t})
        for t in (0.01, math.inf)
        for seed in (0, 1)
    ]
    view = ablation_table(info, records)
    assert [r.cells[0] for r in view.rows] == ["rcs (temperature=0.01)", "rcs (temperature=inf)"]
    assert all(r.partial for r in view.rows)  # 2 of 3 planned seeds
    assert view.data[1]["sweep"] == {"uda.rcs.temperature": math.inf}
    assert "not found (or ambiguous)" in " ".join(view.footnotes)  # no row named "daformer"


def test_per_class_table_mean_std_and_rare_classes(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    view = per_class_table(info, records)
    titles = view.headers
    assert titles[0] == "Row" and titles[-1] == "mIoU" and len(titles) == 21
    rider = titles.index("rider†")
    assert view.columns[rider].highlight and not view.columns[titles.index("road")].highlight
    assert "person*" in titles  # a thing class that is not rare
    cells = {r.cells[0]: r for r in view.rows}
    assert cells["daformer"].cells[rider] == "34.0 ± 4.0"  # 30, 34, 38
    assert cells["no_rcs"].cells[rider] == "21.0 ± 1.0"
    assert rider in cells["daformer"].bold and rider not in cells["no_fd"].bold
    data = {d["row"]: d for d in view.data}
    assert data["daformer"]["iou"]["rider"] == {"mean": pytest.approx(34.0), "std": pytest.approx(4.0)}


def test_per_class_table_follows_eval_classes(make_trial: MakeTrial) -> None:
    synthia = ExperimentInfo(
        id=2, name="synthia", status="succeeded", seeds_planned=[0], eval_classes=["road", "rider", "bicycle"]
    )
    view = per_class_table(synthia, [make_trial("a", 0, 50.0, classes=per_class(50.0, bicycle=10.0))])
    assert view.headers == ["Row", "road", "rider†", "bicycle†", "mIoU"]
    assert view.rows[0].cells == ("a", "50.0", "50.0", "10.0", "50.0")


def test_architecture_table_relative_score(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [
        make_trial(variant, seed, value + seed)
        for variant, value in (
            ("mitb5_source_only", 45.0),
            ("mitb5_uda", 58.0),
            ("mitb5_oracle", 76.0),
            ("segformer uda", 50.0),
            ("no_fd", 60.0),
        )
        for seed in (0, 1, 2)
    ]
    view = architecture_table(info, records)
    assert [r.cells[0] for r in view.rows] == ["mitb5", "segformer"]
    assert view.rows[0].cells[1:4] == ("46.0 ± 1.0", "59.0 ± 1.0", "77.0 ± 1.0")
    assert view.rows[0].cells[4] == f"{100 * 59.0 / 77.0:.1f}%"
    assert view.data[0]["relative_score"] == pytest.approx(100 * 59.0 / 77.0)
    assert view.rows[1].cells[1:] == ("—", "51.0 ± 1.0", "—", "—")


def test_architecture_mode_from_a_sweep(info: ExperimentInfo, make_trial: MakeTrial) -> None:
    records = [
        make_trial("b3", 0, v, sweep={"uda.mode": m}) for m, v in (("uda", 50.0), ("target_only", 80.0))
    ]
    view = architecture_table(info, records)
    assert view.rows[0].cells == ("b3", "—", "50.0 (partial)", "80.0 (partial)", "62.5% (partial)")
    assert view.rows[0].partial


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "done", "status 'done' is not one of"),
        ("final_miou", 101.0, "final_miou: expected an IoU in percent"),
        ("final_miou", math.nan, "final_miou: expected a finite number"),
        ("final_per_class", {"lorry": 3.0}, "unknown class 'lorry'"),
    ],
)
def test_bad_records_name_the_field(field: str, value: Any, message: str) -> None:
    values: dict[str, Any] = {
        "trial_id": 3,
        "name": "t",
        "variant": "v",
        "sweep": {},
        "seed": 0,
        "status": "succeeded",
        "final_miou": 50.0,
    }
    values[field] = value
    with pytest.raises(ValueError, match=message) as info:
        TrialRecord(**values)
    assert "trial 3" in str(info.value)


def test_unknown_kind_or_format_lists_the_valid_ones(
    info: ExperimentInfo, records: list[TrialRecord]
) -> None:
    with pytest.raises(ValueError, match=r"unknown table kind 'x'.*'ablation'"):
        render_table("x", "json", info, records)
    with pytest.raises(ValueError, match=r"unknown table format 'html'.*'latex'"):
        render_table("ablation", "html", info, records)
