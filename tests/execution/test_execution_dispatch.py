"""Experiments of real trainer trials on a local Ray, tracked in a real MLflow, on SQLite and PostgreSQL.

Each test submits through the service layer (as the API does), claims the experiment as a
dispatcher does, and runs it with `run_claimed_experiment`, the code a dispatcher's runner
process executes. Cancel, retry, deduplication, an MLflow outage and a killed worker are real
events against real Ray, MLflow and databases.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from execution_helpers import Background, claim, submit, tiny_spec, trial_rows, trial_worker_processes, wait_until
from mlflow.tracking import MlflowClient

from service.dispatcher.experiment_run import publish_results, run_claimed_experiment
from service.settings import Settings

pytestmark = pytest.mark.slow
CODE = "test-code-version"


def _settings(db_url: str, tmp_path: Path, mlflow_uri: str) -> Settings:
    return Settings(database_url=db_url, mlflow_tracking_uri=mlflow_uri, storage_path=str(tmp_path / "tune"))


def test_experiment_runs_to_the_end(migrated_url: str, tmp_path: Path, tiny_bench: Path, local_ray: None,
                                    mlflow_server: Any) -> None:
    settings = _settings(migrated_url, tmp_path, mlflow_server.url)
    experiment_id = submit(settings, tiny_spec(tiny_bench))
    claim(settings, experiment_id)
    status = run_claimed_experiment(settings, experiment_id, CODE)
    assert status.value == "succeeded"
    assert publish_results(settings, experiment_id)
    rows = trial_rows(settings, experiment_id)
    assert {r["status"] for r in rows} == {"succeeded"}
    client = MlflowClient(mlflow_server.url)
    for row in rows:
        assert row["final_miou"] is not None and row["final_per_class"] and row["attempts"] == 1
        assert [p["step"] for p in row["curve"]] == [3, 6]
        history = client.get_metric_history(row["mlflow_run_id"], "val/mIoU")
        assert [m.step for m in history] == [3, 6]
        assert len(client.get_metric_history(row["mlflow_run_id"], "val/iou/road")) == 2
        run = client.get_run(row["mlflow_run_id"])
        assert run.data.tags["mlflow.parentRunId"] and run.data.params["uda.fd.enabled"] in {"true", "false"}
        assert [a.path for a in client.list_artifacts(row["mlflow_run_id"], "figures")]
        final = [a.path for a in client.list_artifacts(row["mlflow_run_id"], "checkpoints/final")]
        assert final == ["checkpoints/final/model_final.pt"], final
    parent = client.get_run(rows[0]["mlflow_run_id"]).data.tags["mlflow.parentRunId"]
    tables = {a.path for a in client.list_artifacts(parent, "tables")}
    assert {"tables/ablation.md", "tables/ablation.csv", "tables/ablation.tex", "tables/ablation.json"} <= tables
    assert "figures/miou_curves.png" in {a.path for a in client.list_artifacts(parent, "figures")}


def test_cancel_a_running_trial_then_retry_it(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                               local_ray: None) -> None:
    from service.db.engine import make_engine, session_factory
    from service.experiments import service as experiment_service
    from service.trials import service as trial_service

    settings = _settings(migrated_url, tmp_path, "http://127.0.0.1:9")  # MLflow unreachable: runs untracked
    spec = tiny_spec(tiny_bench, iterations=300, variants=[{"name": "long"}])
    spec["base"]["run"]["eval_interval"] = 100
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    run = Background(lambda: run_claimed_experiment(settings, experiment_id, CODE))
    wait_until(lambda: trial_rows(settings, experiment_id)[0]["progress"] >= 2, what="the trial to report progress")
    trial_id = trial_rows(settings, experiment_id)[0]["id"]
    with session_factory(make_engine(settings.database_url)).begin() as session:
        trial_service.cancel(session, trial_id)
    assert run.join().value == "cancelled"
    row = trial_rows(settings, experiment_id)[0]
    assert row["status"] == "cancelled" and row["progress"] < 300
    assert any("MLflow" in line for line in row["log_tail"]), "the untracked run says so in its log"

    with session_factory(make_engine(settings.database_url)).begin() as session:
        experiment_service.retry(session, experiment_id)
    assert trial_rows(settings, experiment_id)[0]["status"] == "queued"


def test_identical_trials_reuse_earlier_results(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                                local_ray: None, mlflow_server: Any) -> None:
    settings = _settings(migrated_url, tmp_path, mlflow_server.url)
    first = submit(settings, tiny_spec(tiny_bench, name="first", variants=[{"name": "full"}]))
    claim(settings, first)
    assert run_claimed_experiment(settings, first, CODE).value == "succeeded"
    spec = tiny_spec(tiny_bench, name="second", variants=[{"name": "full"}, {"name": "no_fd",
                                                                           "overrides": {"uda.fd.enabled": False}}])
    second = submit(settings, spec)
    claim(settings, second)
    started = time.monotonic()
    assert run_claimed_experiment(settings, second, CODE).value == "succeeded"
    rows = {r["name"].split("/")[0]: r for r in trial_rows(settings, second)}
    source = trial_rows(settings, first)[0]
    assert rows["full"]["reused_from"] == source["id"] and rows["full"]["final_miou"] == source["final_miou"]
    assert rows["full"]["curve"] == source["curve"] and rows["full"]["attempts"] == 0
    assert rows["no_fd"]["reused_from"] is None and rows["no_fd"]["attempts"] == 1
    assert time.monotonic() - started > 0

    opted_out = submit(settings, tiny_spec(tiny_bench, name="third", variants=[{"name": "full"}]),
                       reuse_results=False)
    claim(settings, opted_out)
    assert run_claimed_experiment(settings, opted_out, CODE).value == "succeeded"
    assert trial_rows(settings, opted_out)[0]["reused_from"] is None


def test_mlflow_outage_does_not_fail_the_trial(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                               local_ray: None) -> None:
    from ablations.tracking import start_mlflow_server

    store = tmp_path / "mlflow"
    server = start_mlflow_server(f"sqlite:///{store / 'mlflow.db'}", store / "artifacts")
    settings = _settings(migrated_url, tmp_path, server.url)
    spec = tiny_spec(tiny_bench, iterations=12, variants=[{"name": "full"}])
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    run = Background(lambda: run_claimed_experiment(settings, experiment_id, CODE))
    wait_until(lambda: trial_rows(settings, experiment_id)[0]["progress"] >= 1, what="the trial to start")
    server.stop()
    wait_until(lambda: len(trial_rows(settings, experiment_id)[0]["curve"]) >= 2, what="evaluations while down")
    restarted = start_mlflow_server(f"sqlite:///{store / 'mlflow.db'}", store / "artifacts", port=server.port)
    try:
        assert run.join().value == "succeeded"
        row = trial_rows(settings, experiment_id)[0]
        history = MlflowClient(restarted.url).get_metric_history(row["mlflow_run_id"], "val/mIoU")
        assert sorted(m.step for m in history) == [3, 6, 9, 12]
    finally:
        restarted.stop()


def _kill_a_trial_worker() -> int:
    workers = trial_worker_processes()
    assert workers, "no running trial worker"
    os.kill(workers[0].pid, signal.SIGKILL)
    return int(workers[0].pid)


def test_a_killed_worker_resumes_from_its_checkpoint(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                                     local_ray: None, mlflow_server: Any) -> None:
    settings = _settings(migrated_url, tmp_path, mlflow_server.url)
    spec = tiny_spec(tiny_bench, iterations=60, variants=[{"name": "full"}])
    spec["base"]["run"].update(eval_interval=30, checkpoint_interval=10)
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    run = Background(lambda: run_claimed_experiment(settings, experiment_id, CODE))
    wait_until(lambda: trial_rows(settings, experiment_id)[0]["progress"] >= 15, what="a checkpoint to exist")
    _kill_a_trial_worker()
    assert run.join().value == "succeeded"
    row = trial_rows(settings, experiment_id)[0]
    assert row["attempts"] == 2, row["history"]
    assert any(to == "queued" and "checkpoint" in reason for _, to, reason in row["history"])
    assert [p["step"] for p in row["curve"]] == [30, 60]


def test_failed_trial_keeps_its_error_and_retry_reruns_only_it(migrated_url: str, tmp_path: Path,
                                                                 tiny_bench: Path, local_ray: None,
                                                                 mlflow_server: Any) -> None:
    from service.db.engine import make_engine, session_factory
    from service.experiments import service as experiment_service

    settings = _settings(migrated_url, tmp_path, mlflow_server.url)
    spec = tiny_spec(tiny_bench, variants=[
        {"name": "good"}, {"name": "broken", "overrides": {"model.pretrained": "/nonexistent/mit_b0.pth"}}])
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    assert run_claimed_experiment(settings, experiment_id, CODE, max_failures=0).value == "failed"
    rows = {r["name"].split("/")[0]: r for r in trial_rows(settings, experiment_id)}
    assert rows["good"]["status"] == "succeeded"
    assert rows["broken"]["status"] == "failed" and "/nonexistent/mit_b0.pth" in rows["broken"]["error"]
    assert rows["broken"]["log_tail"], "the last log lines are kept on the failed trial"

    with session_factory(make_engine(settings.database_url)).begin() as session:
        experiment_service.retry(session, experiment_id)
    after_retry = {r["name"].split("/")[0]: r for r in trial_rows(settings, experiment_id)}
    assert after_retry["good"]["status"] == "succeeded" and after_retry["broken"]["status"] == "queued"
    claim(settings, experiment_id)
    assert run_claimed_experiment(settings, experiment_id, CODE, max_failures=0).value == "failed"
    final = {r["name"].split("/")[0]: r for r in trial_rows(settings, experiment_id)}
    assert final["good"]["attempts"] == 1, "a succeeded trial is never re-run"
    assert final["broken"]["attempts"] == 2
