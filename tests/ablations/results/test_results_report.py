"""The report page's HTML: escaping, links, figures, downloads and the auto-refresh while running."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import MakeTrial

from ablations.results import ExperimentInfo, ReportUrls, TrialRecord, render_report, report_pieces

URLS = ReportUrls(
    status_json="/experiments/7/status",
    figures={"miou_curves": "/experiments/7/figures/miou_curves.png"},
    downloads={"ablation.csv": "/experiments/7/table.csv?kind=ablation", "ablation.tex": "/t.tex"},
    mlflow_compare="http://mlflow.local/#/compare-runs?runs=a,b",
    mlflow_runs={"1": "http://mlflow.local/#/runs/abc"},
)


def test_user_text_is_escaped(make_trial: MakeTrial) -> None:
    evil = ExperimentInfo(id=1, name="<script>alert(1)</script>", status="succeeded", seeds_planned=[0])
    html = render_report(evil, [make_trial('<img src=x onerror="boom">', 0, 50.0)], URLS)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=" in html


def test_page_holds_tables_links_figures_and_downloads(
    info: ExperimentInfo, records: list[TrialRecord]
) -> None:
    html = render_report(info, records, URLS)
    assert 'id="table-ablation"' in html and 'id="table-per_class"' in html
    assert 'id="table-architecture"' not in html  # no source-only/UDA/oracle rows
    assert '<img src="/experiments/7/figures/miou_curves.png"' in html
    assert 'href="/experiments/7/table.csv?kind=ablation" download' in html
    assert 'href="http://mlflow.local/#/compare-runs?runs=a,b"' in html
    assert 'href="http://mlflow.local/#/runs/abc">run</a>' in html
    assert "70.0 (partial)" in html
    assert "http://" not in html.replace("http://mlflow.local", "")  # nothing from a CDN
    assert '<progress max="1" value="1.0000">' in html and "3000 / 3000" in html


def test_running_page_polls_the_status_endpoint(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    html = render_report(info, records, URLS)  # no_fd has a running trial
    assert 'const url = "/experiments/7/status";' in html and "window.location.reload()" in html
    assert "30.0 (at 1000, in progress)" in html
    meta = render_report(info, records, ReportUrls(refresh_seconds=5))
    assert '<meta http-equiv="refresh" content="5">' in meta and "<script>" not in meta


def test_finished_page_does_not_refresh(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    finished = [r for r in records if r.status == "succeeded"]
    html = render_report(info, finished, URLS)
    assert "<script>" not in html and 'http-equiv="refresh"' not in html


def test_urls_from_a_mapping_refuse_unknown_keys(info: ExperimentInfo, records: list[TrialRecord]) -> None:
    html = render_report(info, records, {"figures": {"ablation_bars": "/f.png"}})
    assert '<img src="/f.png"' in html
    with pytest.raises(ValueError, match=r"urls: unknown keys \['figure'\]"):
        render_report(info, records, {"figure": {}})


def test_results_import_without_torch() -> None:
    import subprocess
    import sys

    code = "import sys, ablations.results; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pieces_filled_with_new_progress_are_the_page_of_that_progress(
    info: ExperimentInfo, records: list[TrialRecord]
) -> None:
    """The service keeps the page cut at the live trials' lines and splices their new lines in:
    that must be the page rendered from scratch with the new progress, byte for byte."""
    live = {r.trial_id for r in records if r.status == "running"} | {records[0].trial_id}
    pieces = report_pieces(info, records, URLS, live=live)
    assert tuple(r.trial_id for r in pieces.live) == tuple(r.trial_id for r in records if r.trial_id in live)
    assert len(pieces.pieces) == 1 + len(live) >= 3
    moved = [replace(r, current_step=1234, total_steps=3000) if r.trial_id in live else r for r in records]
    filled = pieces.fill({r.trial_id: r for r in moved if r.trial_id in live}).decode()
    assert filled == render_report(info, moved, URLS) and "1234 / 3000" in filled
    assert "1234 / 3000" not in render_report(info, records, URLS)
