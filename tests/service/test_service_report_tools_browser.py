"""The report page's reading aids, in headless Chromium against the real API: the class picker of
the per-class curves (defaults to the classes that vary, all 19 as small multiples on request)
and the per-class table scrolling sideways with its first column kept in view."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image

from service.app import create_app
from service.lifecycle import TrialStatus
from service.settings import Settings
from service.trials import repository as trials
from trainer.config import CITYSCAPES_CLASSES

TOKEN = "tools-token"
SPEC = {"name": "short-run", "variants": [{"name": "dacs", "overrides": {"uda.rcs.enabled": False}}, {"name": "rcs"}],
        "seeds": [0], "baseline": "dacs"}
VARYING = ("road", "sky", "car")  # every other class stays at 0, as rare classes do in a short run


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'tools.db'}", api_token=TOKEN,
                              protect_reads=False))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _populate(url: str, app: Any) -> int:
    experiment = httpx.post(f"{url}/experiments", json=SPEC, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    with app.state.sessions.begin() as session:
        for n, t in enumerate(experiment["trials"]):
            trials.set_trial_status(session, t["id"], TrialStatus.RUNNING)
            for step in (100, 200, 300):
                ious = {c: 0.0 for c in CITYSCAPES_CLASSES}
                ious.update({"road": 40.0 + step / 10 + n, "sky": 30.0 + step / 20, "car": 5.0 + step / 50 + 3 * n})
                trials.record_eval_point(session, t["id"], step, ious, sum(ious.values()) / 19)
            trials.finish_trial(session, t["id"], TrialStatus.SUCCEEDED, final_miou=sum(ious.values()) / 19,
                                final_per_class=ious, best_miou=sum(ious.values()) / 19, best_step=300)
    return int(experiment["id"])


def _figure_size(page: Any) -> tuple[int, int]:
    return page.eval_on_selector("#figure-class_curves", "i => [i.naturalWidth, i.naturalHeight]")


@pytest.mark.browser
@pytest.mark.slow  # renders all 19 panels once (~5-15 s on a shared 2-core machine)
def test_class_picker_and_sticky_rows(live_api: tuple[str, Any], chromium_page: tuple[Any, list[str]],
                                      artifacts_dir: Path) -> None:
    url, app = live_api
    experiment_id = _populate(url, app)
    figure = f"{url}/experiments/{experiment_id}/figures/class_curves.png"
    page, errors = chromium_page
    page.set_viewport_size({"width": 900, "height": 900})
    page.goto(f"{url}/experiments/{experiment_id}/report", wait_until="networkidle")

    checked = page.eval_on_selector_all("#class-picker input:checked", "boxes => boxes.map(b => b.value)")
    assert sorted(checked) == sorted(VARYING)  # not rider/bicycle/train, which are flat at 0
    assert page.locator("#class-picker input").count() == 19

    with page.expect_response(lambda r: "classes=all" in r.url, timeout=90_000) as answer:
        page.click("#classes-all")
    assert answer.value.status == 200
    page.wait_for_function("() => document.getElementById('figure-class_curves').complete")
    width, height = _figure_size(page)
    served = httpx.get(figure, params={"classes": "all"}, timeout=120).content
    assert (width, height) == Image.open(io.BytesIO(served)).size
    assert width < 2200 and height > 600  # a 5-column grid of 4 rows, not 19 panels in one row

    with page.expect_response(lambda r: "classes=road,traffic%20light,sky,car" in r.url, timeout=90_000):
        page.click("#classes-default")
        page.check("#class-picker input[value='traffic light']")
    assert "traffic%20light" in page.eval_on_selector("#figure-class_curves", "i => i.src")

    container = page.locator("#table-per_class").locator("xpath=..")
    assert container.evaluate("e => e.scrollWidth > e.clientWidth")  # 21 columns in 900 px: it scrolls
    first = page.locator("#table-per_class tbody tr >> nth=0").locator("td >> nth=0")
    left_before = first.bounding_box()["x"]
    container.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    assert abs(first.bounding_box()["x"] - left_before) < 1  # the row name stays in view
    assert page.locator("#table-per_class tbody tr >> nth=0").locator("td >> nth=-1").is_visible()
    page.screenshot(path=str(artifacts_dir / "service_report_tools.png"), full_page=True)
    assert errors == [], errors
