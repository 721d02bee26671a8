"""The rendered report page in headless Chromium: no console errors, tables equal to the JSON
tables, every figure loads. The page and its PNGs are served by a local http.server.

Chromium is part of what is tested: when it is missing the test fails with the install command.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ablations.results import (
    FIGURE_NAMES,
    ExperimentInfo,
    ReportUrls,
    TrialRecord,
    render_figure,
    render_report,
    render_table,
)

ARTIFACTS = Path(__file__).resolve().parents[3] / "tests" / "artifacts"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Keep the test output clean."""


@pytest.fixture
def served_report(tmp_path: Path, info: ExperimentInfo, records: list[TrialRecord]) -> Iterator[str]:
    """Write the page, its figures and a status JSON to a folder and serve it on a free port."""
    for name in FIGURE_NAMES:
        (tmp_path / f"{name}.png").write_bytes(render_figure(name, "png", info, records))
    (tmp_path / "status.json").write_text(json.dumps({"status": info.status}))
    urls = ReportUrls(
        status_json="/status.json",
        figures={name: f"/{name}.png" for name in FIGURE_NAMES},
        downloads={"ablation.csv": "/ablation.csv"},
        refresh_seconds=60,
    )
    (tmp_path / "index.html").write_text(render_report(info, records, urls), encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.browser
def test_report_page_in_chromium(
    served_report: str, info: ExperimentInfo, records: list[TrialRecord], chromium_page: tuple[Any, list[str]]
) -> None:
    page, errors = chromium_page
    page.goto(served_report, wait_until="load")
    page.wait_for_load_state("networkidle")

    for kind in ("ablation", "per_class"):
        expected = render_table(kind, "json", info, records)
        assert isinstance(expected, dict)
        table = page.locator(f"#table-{kind}")
        headers = table.locator("thead th").all_inner_texts()
        assert headers == [c["title"] for c in expected["columns"]]
        shown = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
        assert shown == [r["cells"] for r in expected["display_rows"]]
    assert page.locator("#trial-progress tbody tr").count() == len(records)
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) == len(FIGURE_NAMES) and all(w > 0 for w in widths)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "results_report.png"), full_page=True)
    assert errors == [], f"console errors on the report page: {errors}"
