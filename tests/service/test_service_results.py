"""Result routes on SQLite and PostgreSQL: tables in every format, figures, status and the page."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from service.lifecycle import TrialStatus
from service.trials import repository as trials

SPEC: dict[str, Any] = {
    "name": "strategies-mini",
    "base": {"run": {"iterations": 10}},
    "variants": [{"name": "dacs", "overrides": {"uda.rcs.enabled": False}}, {"name": "rcs"}],
    "seeds": [0, 1],
    "baseline": "dacs",
}
FINAL = {"dacs": (50.0, 52.0), "rcs": (56.0, 57.0)}


def _finish(api: TestClient, experiment: dict[str, Any], leave_running: int | None = None) -> None:
    """Write what the dispatcher writes: curve points, then final results (one trial left running)."""
    with api.app.state.sessions.begin() as s:
        for t in experiment["trials"]:
            miou = FINAL[t["variant"]][t["seed"]]
            trials.set_trial_status(s, t["id"], TrialStatus.RUNNING)
            trials.record_eval_point(s, t["id"], 5, {"road": miou - 5, "rider": miou - 20}, miou - 5)
            if t["id"] == leave_running:
                continue
            trials.record_eval_point(s, t["id"], 10, {"road": miou, "rider": miou - 10}, miou)
            trials.finish_trial(s, t["id"], TrialStatus.SUCCEEDED, final_miou=miou,
                                final_per_class={"road": miou, "rider": miou - 10}, best_miou=miou, best_step=10)


def test_tables_come_from_the_database(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _finish(api, experiment)
    table = api.get(f"/experiments/{experiment['id']}/table").json()
    rows = {r["variant"]: r for r in table["rows"]}
    assert rows["dacs"]["miou_mean"] == 51.0 and rows["rcs"]["miou_mean"] == 56.5
    assert rows["rcs"]["delta"] == 5.5

    text = api.get(f"/experiments/{experiment['id']}/table", params={"format": "markdown"})
    assert text.headers["content-type"].startswith("text/markdown") and "56.5" in text.text
    latex = api.get(f"/experiments/{experiment['id']}/table", params={"format": "latex", "download": True})
    assert "\\toprule" in latex.text and "attachment" in latex.headers["content-disposition"]
    parsed = list(csv.DictReader(io.StringIO(api.get(f"/experiments/{experiment['id']}/table",
                                                     params={"format": "csv", "kind": "per_class"}).text)))
    assert len(parsed) == 2


def test_partial_rows_and_status_while_running(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    running = experiment["trials"][-1]["id"]
    _finish(api, experiment, leave_running=running)
    table = api.get(f"/experiments/{experiment['id']}/table").json()
    assert any(r["partial"] for r in table["rows"])
    status = api.get(f"/experiments/{experiment['id']}/status").json()
    assert {t["status"] for t in status["trials"]} == {"succeeded", "running"} and status["etag"]


def test_figures_and_report(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _finish(api, experiment)
    png = api.get(f"/experiments/{experiment['id']}/figures/miou_curves.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = api.get(f"/experiments/{experiment['id']}/figures/class_curves.svg", params={"classes": "rider"})
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert api.get(f"/experiments/{experiment['id']}/figures/nope.png").status_code == 404
    page = api.get(f"/experiments/{experiment['id']}/report")
    assert page.status_code == 200 and "strategies-mini" in page.text and "/figures/ablation_bars.png" in page.text


def test_unknown_experiment_is_404(api: TestClient) -> None:
    assert api.get("/experiments/999/table").status_code == 404
    assert api.get("/experiments/999/report").status_code == 404
