"""The report page links to MLflow's views that read well: the trial runs table and the charts of
the validation metrics, in model-training mode, through the experiment's shared `trials` view."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.app import create_app
from service.experiments.models import Experiment
from service.settings import Settings
from service.trials import repository as trials

SPEC = {"name": "links", "variants": [{"name": "a"}], "seeds": [0]}


def test_report_links_to_the_trials_view_and_its_charts(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'l.db'}", api_token="t", protect_reads=False,
                        mlflow_ui_url="http://mlflow.test:5000")
    with TestClient(create_app(settings)) as http:
        experiment = http.post("/experiments", json=SPEC, headers={"Authorization": "Bearer t"}).json()
        with http.app.state.sessions.begin() as session:  # type: ignore[attr-defined]
            session.get(Experiment, experiment["id"]).mlflow_experiment_id = "42"
            trials.get_trial(session, experiment["trials"][0]["id"]).mlflow_run_id = "r1"
        html = http.get(f"/experiments/{experiment['id']}/report").text
    base = "http://mlflow.test:5000/#/experiments/42/runs?workflowType=machine_learning&amp;viewStateShareKey=trials"
    assert f'id="mlflow-compare" href="{base}"' in html
    assert f'id="mlflow-charts" href="{base}&amp;compareRunsMode=CHART"' in html
    assert "compare-runs" not in html
