"""Cost of logging one evaluation to MLflow: MlflowReporter (one log_batch) vs Ray's MLflowLoggerCallback.

Both write the same evaluation (19 per-class IoUs, mIoU and 5 training values) to the same local
MLflow server (a subprocess with a SQLite store in a temporary folder). Ray's side is its real
``ray.air.integrations.mlflow.MLflowLoggerCallback`` driven outside a Tune run with a stub
``Trial``: per result it looks the run up (``get_run``) and then sends one ``log_metric`` request
per key. The result dict holds only the evaluation's keys plus ``training_iteration`` (which Ray
needs for the step); a real Tune result carries ~15 more auto-filled keys, so Ray's figure here
is a lower bound. Requests are counted from the server's access log.

    .venv/bin/python bench/bench_logging.py --evals 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ablations.tracking import (
    MlflowReporter,
    MlflowServer,
    configure_http_timeouts,
    create_parent_run,
    ensure_experiment,
    make_client,
    start_mlflow_server,
)
from trainer.config.schema import CITYSCAPES_CLASSES

LOSSES = ("loss_src", "loss_mix", "loss_fd", "lr", "pseudo_confidence")


def evaluation(step: int) -> tuple[dict[str, float], dict[str, float], float]:
    """Deterministic per-class IoUs, training values and mIoU for one evaluation at ``step``."""
    ious = {name: (step * 7 + index) % 100 / 100 for index, name in enumerate(CITYSCAPES_CLASSES)}
    losses = {name: 1.0 / (step + index + 1) for index, name in enumerate(LOSSES)}
    return ious, losses, sum(ious.values()) / len(ious)


def requests_so_far(server: MlflowServer) -> int:
    """HTTP requests the server has answered, from its access log."""
    log = server.log_text()
    return log.count('"POST ') + log.count('"GET ')


def timed(server: MlflowServer, evals: int, log_one: Callable[[int], None]) -> tuple[list[float], float]:
    """Seconds per evaluation (after one warm-up) and HTTP requests per evaluation."""
    log_one(0)
    time.sleep(0.5)
    before = requests_so_far(server)
    seconds = []
    for step in range(1, evals + 1):
        started = time.perf_counter()
        log_one(step * 1000)
        seconds.append(time.perf_counter() - started)
    time.sleep(0.5)  # let the access log catch up
    return seconds, (requests_so_far(server) - before) / evals


def bench_reporter(server: MlflowServer, evals: int) -> tuple[list[float], float]:
    client = make_client(server.url)
    experiment_id = ensure_experiment(client, "bench-reporter")
    parent = create_parent_run(client, experiment_id, "bench")
    run_id = client.create_run(
        experiment_id, run_name="reporter", tags={"mlflow.parentRunId": parent}
    ).info.run_id
    reporter = MlflowReporter(client, run_id)

    def log_one(step: int) -> None:
        ious, losses, miou = evaluation(step)
        reporter.on_train(step, losses)
        reporter.on_eval(step, ious, miou)

    return timed(server, evals, log_one)


def bench_ray_callback(server: MlflowServer, evals: int) -> tuple[list[float], float]:
    from ray.air.integrations.mlflow import MLflowLoggerCallback
    from ray.tune.experiment import Trial

    callback = MLflowLoggerCallback(tracking_uri=server.url, experiment_name="bench-ray")
    callback.setup()
    trial = Trial("bench_trainable", config={"seed": 0}, stub=True)
    callback.log_trial_start(trial)

    def log_one(step: int) -> None:
        ious, losses, miou = evaluation(step)
        result = {
            **{f"val/iou/{k}": v for k, v in ious.items()},
            "val/mIoU": miou,
            "training_iteration": step,
        }
        result.update({f"train/{k}": v for k, v in losses.items()})
        callback.log_trial_result(step, trial, result)

    return timed(server, evals, log_one)


def summarise(name: str, seconds: list[float], requests: float) -> float:
    median = statistics.median(seconds)
    print(
        f"{name:<28} median {median * 1000:8.2f} ms  mean {statistics.mean(seconds) * 1000:8.2f} ms  "
        f"requests/eval {requests:5.1f}"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evals", type=int, default=20, help="timed evaluations per method")
    args = parser.parse_args()
    configure_http_timeouts(timeout_s=10, max_retries=0, override=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with start_mlflow_server(
            f"sqlite:///{root}/mlflow.db", root / "artifacts", log_path=root / "s.log"
        ) as srv:
            ours = summarise("MlflowReporter (log_batch)", *bench_reporter(srv, args.evals))
            ray = summarise("Ray MLflowLoggerCallback", *bench_ray_callback(srv, args.evals))
    print(
        f"{len(CITYSCAPES_CLASSES) + 1 + len(LOSSES)} metrics per evaluation, {args.evals} evaluations each"
    )
    print(f"speed-up (median): {ray / ours:.1f}x")


if __name__ == "__main__":
    main()
