"""MLflow down when an experiment starts: real trials on a local Ray, a real MLflow server started
late, on SQLite and PostgreSQL.

The experiment trains untracked and ends; its detail (GET /experiments/{id}) says tracking is
pending and why. Once MLflow is back, the dispatcher's periodic replay (a real `run_one
--sync-only` child of `Dispatcher.tick`) opens the runs late and sends every curve point exactly
once, the final results, checkpoints, tables and figures, and ends every run. A later experiment
reusing that trial gets a run that is ended, carries the metrics and names the run it reuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from execution_helpers import claim, submit, tiny_spec, trial_rows, wait_until
from mlflow.tracking import MlflowClient

from ablations.tracking import free_port, start_mlflow_server
from ablations.tracking.replay import TAG_REUSED_FROM_RUN, duplicate_points
from service.demo import wait_published
from service.dispatcher.experiment_run import publish_results, run_claimed_experiment
from service.dispatcher.loop import Dispatcher, DispatcherOptions
from service.settings import Settings

pytestmark = pytest.mark.slow
CODE = "test-code-version"


def _detail(api: Any, experiment_id: int) -> dict[str, Any]:
    response = api.get(f"/experiments/{experiment_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


class _DemoClient:
    """What `service.demo.wait_published` reads (``ApiClient.experiment``), over the app's TestClient."""

    def __init__(self, api: Any) -> None:
        self.api = api

    def experiment(self, experiment_id: int) -> dict[str, Any]:
        return _detail(self.api, experiment_id)


def _replay_by_a_dispatcher(settings: Settings, api: Any, experiment_id: int) -> None:
    dispatcher = Dispatcher(settings, DispatcherOptions(lease_s=5, sync_interval_s=2))

    def complete() -> bool:
        dispatcher.tick()
        return bool(_detail(api, experiment_id)["tracking_status"] == "complete")
    try:
        wait_until(complete, timeout_s=180, what="the dispatcher's replay into MLflow")
    finally:
        for child in dispatcher._children.values():
            child.wait(timeout=60)


def test_mlflow_down_at_start_is_replayed_once_it_is_back(db_url: str, api: Any, tmp_path: Path, tiny_bench: Path,
                                                          local_ray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    settings = Settings(database_url=db_url, mlflow_tracking_uri=f"http://127.0.0.1:{port}",
                        storage_path=str(tmp_path / "tune"))
    for name, value in (("ABLATE_DATABASE_URL", db_url), ("ABLATE_MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri),
                        ("ABLATE_STORAGE_PATH", settings.storage_path)):
        monkeypatch.setenv(name, value)  # the dispatcher's children read their settings from it
    experiment_id = submit(settings, tiny_spec(tiny_bench, variants=[{"name": "full"}]))
    claim(settings, experiment_id)
    assert run_claimed_experiment(settings, experiment_id, CODE).value == "succeeded"
    assert publish_results(settings, experiment_id) is False
    detail = _detail(api, experiment_id)
    assert detail["status"] == "succeeded" and detail["tracking_status"] == "pending"
    assert "unreachable" in detail["tracking_detail"] and str(port) in detail["tracking_detail"]
    demo_client = _DemoClient(api)
    assert wait_published(demo_client, experiment_id, timeout_s=1) is False  # the demo would say it is pending

    store = tmp_path / "mlflow"
    server = start_mlflow_server(f"sqlite:///{store / 'mlflow.db'}", store / "artifacts", port=port)
    try:
        _replay_by_a_dispatcher(settings, api, experiment_id)
        assert wait_published(demo_client, experiment_id, timeout_s=1) is True
        client = MlflowClient(server.url)
        row = trial_rows(settings, experiment_id)[0]
        run = client.get_run(row["mlflow_run_id"])
        assert run.info.status == "FINISHED"
        for key in ("val/mIoU", "val/iou/road", "val/iou/traffic_light"):
            assert sorted(m.step for m in client.get_metric_history(run.info.run_id, key)) == [3, 6], key
        assert [m.value for m in client.get_metric_history(run.info.run_id, "final/mIoU")] == [row["final_miou"]]
        assert duplicate_points(client, run.info.run_id) == {}
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints/final")] == [
            "checkpoints/final/model_final.pt"]
        assert [a.path for a in client.list_artifacts(run.info.run_id, "figures")]
        parent = client.get_run(run.data.tags["mlflow.parentRunId"])
        assert parent.info.status == "FINISHED"
        assert "tables/ablation.md" in {a.path for a in client.list_artifacts(parent.info.run_id, "tables")}
        assert "figures/class_curves.png" in {a.path for a in client.list_artifacts(parent.info.run_id, "figures")}

        # MLflow is up now: an identical trial in a new experiment is reused; its run is ended too.
        second = submit(settings, tiny_spec(tiny_bench, name="again", variants=[{"name": "full"}]))
        claim(settings, second)
        assert run_claimed_experiment(settings, second, CODE).value == "succeeded"
        assert publish_results(settings, second) is True
        reused = trial_rows(settings, second)[0]
        assert reused["reused_from"] == row["id"]
        reused_run = client.get_run(reused["mlflow_run_id"])
        assert reused_run.info.status == "FINISHED"
        assert reused_run.data.tags[TAG_REUSED_FROM_RUN] == row["mlflow_run_id"]
        assert sorted(m.step for m in client.get_metric_history(reused["mlflow_run_id"], "val/mIoU")) == [3, 6]
        assert reused_run.data.metrics["final/mIoU"] == row["final_miou"]
        assert client.get_run(reused_run.data.tags["mlflow.parentRunId"]).info.status == "FINISHED"
        assert _detail(api, second)["tracking_status"] == "complete"
    finally:
        server.stop()


def test_mlflow_back_during_the_run_gets_the_curves_before_the_end(migrated_url: str, tmp_path: Path,
                                                                    tiny_bench: Path, local_ray: None) -> None:
    from execution_helpers import Background, experiment_status

    from service.db.engine import make_engine, session_factory
    from service.experiments import service as experiment_service

    port = free_port()
    settings = Settings(database_url=migrated_url, mlflow_tracking_uri=f"http://127.0.0.1:{port}",
                        storage_path=str(tmp_path / "tune"))
    spec = tiny_spec(tiny_bench, iterations=2000, variants=[{"name": "long"}])
    spec["base"]["run"].update(eval_interval=5, checkpoint_interval=1000)
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    run = Background(lambda: run_claimed_experiment(settings, experiment_id, CODE, live_replay_s=1.0))
    wait_until(lambda: trial_rows(settings, experiment_id)[0]["progress"] >= 1, what="the untracked trial to start")
    store = tmp_path / "mlflow"
    server = start_mlflow_server(f"sqlite:///{store / 'mlflow.db'}", store / "artifacts", port=port)
    try:
        client = MlflowClient(server.url)

        def curve_in_mlflow() -> bool:
            run_id = trial_rows(settings, experiment_id)[0]["mlflow_run_id"]
            return bool(run_id) and len(client.get_metric_history(run_id, "val/mIoU")) >= 2

        wait_until(curve_in_mlflow, timeout_s=120, what="the curve of the running trial in MLflow")
        assert trial_rows(settings, experiment_id)[0]["status"] == "running"
        with session_factory(make_engine(settings.database_url)).begin() as session:
            experiment_service.cancel(session, experiment_id)  # enough: end it early
        assert run.join().value == "cancelled"
        assert publish_results(settings, experiment_id) is True
        row = trial_rows(settings, experiment_id)[0]
        steps = sorted(m.step for m in client.get_metric_history(row["mlflow_run_id"], "val/mIoU"))
        assert steps == [p["step"] for p in row["curve"]]
        assert duplicate_points(client, row["mlflow_run_id"]) == {}
        trial_run = client.get_run(row["mlflow_run_id"])
        assert trial_run.info.status == "KILLED"
        assert client.get_run(trial_run.data.tags["mlflow.parentRunId"]).info.status == "KILLED"
        assert experiment_status(settings, experiment_id) == "cancelled"
    finally:
        server.stop()
