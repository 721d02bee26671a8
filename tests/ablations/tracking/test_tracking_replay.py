"""Idempotent logging against a real MLflow server: a resumed reporter never repeats a (key, step),
and a replay from the database's record sends only what a run lacks, then ends it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mlflow import MlflowClient

from ablations.tracking import (
    MlflowReporter,
    MlflowServer,
    create_parent_run,
    create_trial_run,
    ensure_experiment,
    make_client,
    start_mlflow_server,
)
from ablations.tracking.replay import (
    TAG_REUSED_FROM_RUN,
    EvalPoint,
    TrialRecord,
    duplicate_points,
    replay_trial,
    summary_artifacts,
)
from tests.ablations.tracking.test_tracking_mlflow import Trial, per_class, run_steps

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow")
    handle = start_mlflow_server(f"sqlite:///{root}/mlflow.db", root / "artifacts", log_path=root / "server.log")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(server: MlflowServer) -> MlflowClient:
    return make_client(server.url, timeout_s=5)


def _run(client: MlflowClient, name: str) -> str:
    experiment_id = ensure_experiment(client, f"exp-{name}")
    return create_trial_run(client, experiment_id, create_parent_run(client, experiment_id, "p"), Trial(name))


def test_a_resume_from_an_older_checkpoint_logs_no_step_twice(client: MlflowClient) -> None:
    run_id = _run(client, "resume-older")
    first = MlflowReporter(client, run_id)
    run_steps(first, range(1, 26), eval_every=10)  # evaluations 10 and 20 logged; killed at 25
    second = MlflowReporter(client, run_id)  # resumed from a checkpoint of step 5: 10 and 20 come again
    run_steps(second, range(6, 41), eval_every=10)
    second.on_end({"final_step": 40, "final_miou": 0.4})
    assert [m.step for m in client.get_metric_history(run_id, "val/mIoU")] == [10, 20, 30, 40]
    assert [m.step for m in client.get_metric_history(run_id, "val/iou/traffic_light")] == [10, 20, 30, 40]
    assert duplicate_points(client, run_id) == {}
    assert second.sender.skipped == 2 * (19 + 1 + 3)  # two evaluations: 19 classes, mIoU, 3 train values


def _record(status: str, steps: list[int], **final: float | int | None) -> TrialRecord:
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    points = [EvalPoint(s, 0.01 * s, {**per_class(s), "bicycle": None}, at) for s in steps]  # type: ignore[dict-item]
    return TrialRecord(status=status, points=points, **final)  # type: ignore[arg-type]


def test_replay_sends_only_what_the_run_lacks_and_ends_it(client: MlflowClient, tmp_path: Path) -> None:
    run_id = _run(client, "replay")
    live = MlflowReporter(client, run_id)
    run_steps(live, range(1, 11), eval_every=10)  # step 10 arrived live; 20 and the end never did
    model = tmp_path / "model_final.pt"
    model.write_bytes(b"weights")
    record = TrialRecord(**{**_record("succeeded", [10, 20], final_step=20, final_miou=0.2, best_miou=0.2,
                                      best_step=20).__dict__, "artifacts": {"checkpoints/final": str(model)},
                            "tags": {TAG_REUSED_FROM_RUN: "abc"}})
    counts = replay_trial(client, run_id, record)
    # step 20: 18 classes (bicycle has no IoU) + mIoU; final and best mIoU
    assert (counts.sent, counts.uploaded) == (18 + 1 + 2, ["checkpoints/final"])
    again = replay_trial(client, run_id, record)
    assert (again.sent, again.uploaded) == (0, [])
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags[TAG_REUSED_FROM_RUN] == "abc"
    assert sorted(m.step for m in client.get_metric_history(run_id, "val/mIoU")) == [10, 20]
    assert [m.step for m in client.get_metric_history(run_id, "final/mIoU")] == [20]
    assert duplicate_points(client, run_id) == {}


@pytest.mark.parametrize(("status", "mlflow_status"), [("failed", "FAILED"), ("cancelled", "KILLED"),
                                                        ("succeeded", "FINISHED")])
def test_runs_end_with_the_status_of_their_trial(client: MlflowClient, status: str, mlflow_status: str) -> None:
    run_id = _run(client, f"status-{status}")
    replay_trial(client, run_id, _record(status, [5]))
    assert client.get_run(run_id).info.status == mlflow_status


def test_summary_artifacts_name_the_final_files() -> None:
    summary = {"model": "/o/model_final.pt", "best_model": "/o/model_best.pt", "best_step": 20, "final_step": 40,
               "metrics_path": "/o/metrics.jsonl"}
    assert summary_artifacts(summary) == {"checkpoints/final": "/o/model_final.pt",
                                          "checkpoints/best": "/o/model_best.pt", "metrics": "/o/metrics.jsonl"}
    assert "checkpoints/best" not in summary_artifacts({**summary, "best_step": 40})
