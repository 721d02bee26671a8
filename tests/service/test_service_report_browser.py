"""The report page as a user sees it: the real API (uvicorn on loopback) in headless Chromium.

The page loads without console errors, its tables equal the API's JSON tables, every figure
loads; a screenshot is kept in tests/artifacts/. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from service.app import create_app
from service.lifecycle import TrialStatus
from service.settings import Settings
from service.trials import repository as trials

TOKEN = "browser-token"
SPEC = {
    "name": "rcs-vs-dacs",
    "base": {"run": {"iterations": 2000}},
    "variants": [{"name": "dacs", "overrides": {"uda.rcs.enabled": False}}, {"name": "rcs"}],
    "seeds": [0, 1],
    "baseline": "dacs",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def live_api(db_url: str) -> Iterator[tuple[str, Any]]:
    """The service on a free loopback port, reads open to the browser, writes behind the token."""
    app = create_app(Settings(database_url=db_url, api_token=TOKEN, protect_reads=False,
                              mlflow_ui_url="http://127.0.0.1:5000"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{server.config.port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _populate(url: str, app: Any) -> int:
    """Submit over HTTP, then write curves and results as the dispatcher does (one trial still running)."""
    experiment = httpx.post(f"{url}/experiments", json=SPEC, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    with app.state.sessions.begin() as session:
        for n, t in enumerate(experiment["trials"]):
            base = 50.0 + 5 * (t["variant"] == "rcs") + t["seed"]
            trials.set_trial_status(session, t["id"], TrialStatus.RUNNING)
            for step in (1000, 2000):
                per_class = {"road": base + step / 200, "rider": base - 20 + step / 500, "bicycle": base - 25}
                trials.record_eval_point(session, t["id"], step, per_class, base + step / 1000)
            if n < len(experiment["trials"]) - 1:
                trials.finish_trial(session, t["id"], TrialStatus.SUCCEEDED, final_miou=base + 2,
                                    final_per_class={"road": base + 10, "rider": base - 16, "bicycle": base - 25},
                                    best_miou=base + 2, best_step=2000)
    return int(experiment["id"])


@pytest.mark.browser
def test_report_page_in_chromium(live_api: tuple[str, Any], chromium_page: tuple[Any, list[str]],
                                 artifacts_dir: Path) -> None:
    url, app = live_api
    experiment_id = _populate(url, app)
    page, errors = chromium_page
    page.goto(f"{url}/experiments/{experiment_id}/report", wait_until="load")
    page.wait_for_load_state("networkidle")

    for kind in ("ablation", "per_class"):
        expected = httpx.get(f"{url}/experiments/{experiment_id}/table", params={"kind": kind}).json()
        table = page.locator(f"#table-{kind}")
        assert table.locator("thead th").all_inner_texts() == [c["title"] for c in expected["columns"]]
        shown = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
        assert shown == [r["cells"] for r in expected["display_rows"]]
    assert page.locator("#trial-progress tbody tr").count() == 4
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths and all(w > 0 for w in widths), widths
    for link in page.locator("a[href*='format=csv'], a[href*='format=latex']").all():
        assert httpx.get(url + str(link.get_attribute("href"))).status_code == 200

    page.screenshot(path=str(artifacts_dir / "service_report.png"), full_page=True)
    assert errors == [], f"console errors on the report page: {errors}"
