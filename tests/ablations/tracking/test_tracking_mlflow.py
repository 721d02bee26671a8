"""Trial runs, the MlflowReporter and outages against a real MLflow server (subprocess, SQLite store).

One server is shared by the module; the outage test starts its own so it can stop and restart it.
Requests are counted from the server's own access log (one line per HTTP request).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from ablations.tracking.keys import config_params
from ablations.tracking.sender import ResilientSender
from trainer.config import TrainConfig
from trainer.config.schema import CITYSCAPES_CLASSES


@dataclass(frozen=True)
class Trial:
    name: str
    variant: str = "full"
    sweep: Mapping[str, Any] = field(default_factory=lambda: {"uda.rcs.temperature": 0.01})
    seed: int = 0
    config: Mapping[str, Any] = field(default_factory=lambda: TrainConfig().model_dump(mode="json"))
    config_hash: str = "0123abcd"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow")
    handle = start_mlflow_server(
        f"sqlite:///{root}/mlflow.db", root / "artifacts", log_path=root / "server.log"
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(server: MlflowServer) -> MlflowClient:
    return make_client(server.url, timeout_s=5)


def per_class(step: int) -> dict[str, float]:
    return {name: round(0.01 * step + 0.001 * index, 6) for index, name in enumerate(CITYSCAPES_CLASSES)}


def run_steps(reporter: MlflowReporter, steps: range, eval_every: int) -> None:
    for step in steps:
        reporter.on_train(step, {"loss": 1.0 / step, "lr": 6e-5, "pseudo_confidence": 0.9})
        if step % eval_every == 0:
            reporter.on_eval(step, per_class(step), miou=0.01 * step)


def count_requests(server: MlflowServer, path: str) -> int:
    return server.log_text().count(f'"POST /api/2.0/mlflow/{path} HTTP')


def wait_for_count(server: MlflowServer, path: str, expected: int) -> int:
    """The access log line is written just after the response: allow it a moment."""
    deadline = time.monotonic() + 5
    while count_requests(server, path) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count_requests(server, path)


def test_experiment_and_parent_run_are_idempotent(client: MlflowClient) -> None:
    experiment_id = ensure_experiment(client, "exp-idem", {"ablation.preset": "table1"})
    assert ensure_experiment(client, "exp-idem", {"ablation.preset": "table1"}) == experiment_id
    assert client.get_experiment(experiment_id).tags["ablation.experiment_id"] == "exp-idem"
    parent = create_parent_run(client, experiment_id, "exp-idem")
    assert create_parent_run(client, experiment_id, "exp-idem") == parent
    assert len(client.search_runs([experiment_id])) == 1


def test_trial_run_logs_params_tags_curves_and_artifacts(client: MlflowClient, tmp_path: Path) -> None:
    experiment_id = ensure_experiment(client, "exp-trial")
    parent = create_parent_run(client, experiment_id, "exp-trial")
    trial = Trial(name="full-seed0")
    run_id = create_trial_run(client, experiment_id, parent, trial)
    assert create_trial_run(client, experiment_id, parent, trial) == run_id  # never a duplicate

    reporter = MlflowReporter(client, run_id, train_log_interval=5)
    run_steps(reporter, range(1, 31), eval_every=10)
    checkpoint = tmp_path / "iter_30.pth"
    checkpoint.write_bytes(b"final")
    best = tmp_path / "iter_20.pth"
    best.write_bytes(b"best")
    reporter.on_checkpoint(20, best)
    reporter.on_checkpoint(30, checkpoint)
    reporter.on_end(
        {
            "final_step": 30,
            "final_miou": 0.3,
            "best_miou": 0.3,
            "best_step": 20,
            "checkpoint": str(checkpoint),
        }
    )

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["ablation.variant"] == "full"
    assert run.data.tags["ablation.seed"] == "0"
    assert run.data.tags["ablation.config_hash"] == "0123abcd"
    assert run.data.tags["ablation.factor.uda.rcs.temperature"] == "0.01"
    assert run.data.tags["ablation.experiment_id"] == "exp-trial"
    assert run.data.tags["ablation.code_version"]
    assert run.data.params["model.encoder"] == "mit_b5"
    assert run.data.params["uda.rcs.temperature"] == "0.01"
    assert run.data.params == config_params(TrainConfig().model_dump(mode="json"))  # every resolved value

    history = client.get_metric_history(run_id, "val/iou/traffic_light")
    assert [(m.step, m.value) for m in history] == [(s, per_class(s)["traffic light"]) for s in (10, 20, 30)]
    assert [m.step for m in client.get_metric_history(run_id, "val/mIoU")] == [10, 20, 30]
    assert all(f"val/iou/{name.replace(' ', '_')}" in run.data.metrics for name in CITYSCAPES_CLASSES)
    losses = client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in losses] == [5, 10, 15, 20, 25, 30]
    assert math.isclose(losses[-1].value, 1 / 30)
    assert [m.step for m in client.get_metric_history(run_id, "train/lr")] == [5, 10, 15, 20, 25, 30]
    assert run.data.metrics["train/pseudo_confidence"] == 0.9
    assert run.data.metrics["best/mIoU"] == 0.3

    assert [f.path for f in client.list_artifacts(run_id, "checkpoints/final")] == [
        "checkpoints/final/iter_30.pth"
    ]
    assert [f.path for f in client.list_artifacts(run_id, "checkpoints/best")] == [
        "checkpoints/best/iter_20.pth"
    ]
    nested = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    assert [r.info.run_id for r in nested] == [run_id]


def test_params_go_in_batches_of_at_most_100(server: MlflowServer, client: MlflowClient) -> None:
    experiment_id = ensure_experiment(client, "exp-params")
    parent = create_parent_run(client, experiment_id, "exp-params")
    before = count_requests(server, "runs/log-batch")
    config = {"group": {f"p{i:03d}": i for i in range(250)}, "long": "v" * 7000}
    run_id = create_trial_run(client, experiment_id, parent, Trial(name="wide", config=config))
    assert wait_for_count(server, "runs/log-batch", before + 3) == before + 3  # 251 params -> 100+100+51
    params = client.get_run(run_id).data.params
    assert len(params) == 251 and len(params["long"]) == 6000


def test_resumed_trial_appends_to_the_same_run(client: MlflowClient) -> None:
    experiment_id = ensure_experiment(client, "exp-resume")
    parent = create_parent_run(client, experiment_id, "exp-resume")
    run_id = create_trial_run(client, experiment_id, parent, Trial(name="resumed"))
    first = MlflowReporter(client, run_id)
    run_steps(first, range(1, 21), eval_every=10)  # the worker dies here: no on_end
    second = MlflowReporter(client, run_id)  # the resumed trial gets the stored run id
    run_steps(second, range(21, 41), eval_every=10)
    second.on_end({"final_step": 40, "final_miou": 0.4})
    assert [m.step for m in client.get_metric_history(run_id, "val/mIoU")] == [10, 20, 30, 40]
    assert len(client.search_runs([experiment_id])) == 2  # the parent and this one trial run
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_failed_trial_ends_failed_and_on_end_after_close_changes_nothing(client: MlflowClient) -> None:
    experiment_id = ensure_experiment(client, "exp-failed")
    run_id = create_trial_run(
        client, experiment_id, create_parent_run(client, experiment_id, "p"), Trial("boom")
    )
    reporter = MlflowReporter(client, run_id)
    run_steps(reporter, range(1, 11), eval_every=10)
    reporter.close("FAILED")
    reporter.on_end({"final_step": 10})
    assert client.get_run(run_id).info.status == "FAILED"
    errored = create_trial_run(
        client, experiment_id, create_parent_run(client, experiment_id, "p"), Trial("err")
    )
    MlflowReporter(client, errored).on_end({"error": "CUDA out of memory"})
    assert client.get_run(errored).info.status == "FAILED"


def test_one_evaluation_is_one_http_request(server: MlflowServer, client: MlflowClient) -> None:
    experiment_id = ensure_experiment(client, "exp-count")
    parent = create_parent_run(client, experiment_id, "exp-count")
    run_id = create_trial_run(client, experiment_id, parent, Trial(name="counted"))
    reporter = MlflowReporter(client, run_id, train_log_interval=10)
    for step in range(1, 10):  # nine training steps: off the sampling interval, nothing sent
        reporter.on_train(
            step, {"loss": 1.0, "loss_mix": 0.5, "loss_fd": 0.1, "lr": 6e-5, "pseudo_confidence": 0.8}
        )
    time.sleep(0.3)
    batches_before = count_requests(server, "runs/log-batch")
    posts_before = server.log_text().count('"POST ')
    reporter.on_train(
        10, {"loss": 1.0, "loss_mix": 0.5, "loss_fd": 0.1, "lr": 6e-5, "pseudo_confidence": 0.8}
    )
    reporter.on_eval(10, per_class(10), miou=0.1)
    assert wait_for_count(server, "runs/log-batch", batches_before + 1) == batches_before + 1
    time.sleep(0.3)
    assert server.log_text().count('"POST ') == posts_before + 1  # no other request at all
    metrics = client.get_run(run_id).data.metrics
    assert len(metrics) == 19 + 1 + 5


def test_outage_buffers_metrics_and_delivers_them_after_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store, artifacts = f"sqlite:///{tmp_path}/mlflow.db", tmp_path / "artifacts"
    server = start_mlflow_server(store, artifacts, log_path=tmp_path / "server.log")
    try:
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        client = MlflowClient(tracking_uri=server.url)
        experiment_id = ensure_experiment(client, "exp-outage")
        run_id = create_trial_run(
            client, experiment_id, create_parent_run(client, experiment_id, "p"), Trial("t")
        )
        sender = ResilientSender(client, run_id, initial_backoff_s=0.2, max_backoff_s=0.5)
        reporter = MlflowReporter(client, run_id, sender=sender)
        reporter.on_eval(1, per_class(1), 0.01)
        server.stop()
        with caplog.at_level(logging.WARNING, logger="ablations.tracking"):
            for step in range(2, 6):
                started = time.monotonic()
                reporter.on_eval(step, per_class(step), 0.01 * step)
                assert time.monotonic() - started < 1.0
                time.sleep(0.3)
            assert sender.pending == 4 * 20 and not sender.reachable
            assert "MLflow unreachable" in caplog.text
            server = start_mlflow_server(store, artifacts, port=server.port, log_path=tmp_path / "server.log")
            time.sleep(0.6)  # past the backoff
            reporter.on_eval(6, per_class(6), 0.06)
            assert "MLflow reachable again" in caplog.text
        assert sender.pending == 0 and sender.dropped == 0
        assert [m.step for m in client.get_metric_history(run_id, "val/mIoU")] == [1, 2, 3, 4, 5, 6]
        assert [m.step for m in client.get_metric_history(run_id, "val/iou/traffic_light")] == [
            1,
            2,
            3,
            4,
            5,
            6,
        ]
    finally:
        server.stop()
