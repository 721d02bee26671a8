"""The same final results computed from MLflow, for the side-by-side figure of bench_api.py.

A real local MLflow tracking server (``mlflow server``, SQLite store) gets N trial runs logged
the way the dispatcher logs them: params (variant, seed, sweep), the per-class IoU and mIoU
curve as metrics with steps (10 evaluations x 20 metrics) in one batch per run. The answer of
GET /experiments/{id}/results is then rebuilt from MLflow alone: ``search_runs`` (every page)
for params and latest metrics, plus one ``get_metric_history`` per run for the best mIoU and
its step (MLflow keeps only the latest value of a metric on the run).
"""

from __future__ import annotations

import contextlib
import io
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from trainer.config import CITYSCAPES_CLASSES

EVALS, ITERATIONS = 10, 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mlflow_server() -> Iterator[str]:
    """A throwaway ``mlflow server`` (one worker, SQLite store) on a free loopback port."""
    root = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--default-artifact-root", str(root / "art"),
               "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                MlflowClient(url).search_experiments(max_results=1)
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def log_trials(url: str, trials: int) -> tuple[str, float]:
    """Log ``trials`` finished trial runs; returns (MLflow experiment id, seconds it took)."""
    client = MlflowClient(url)
    rng = random.Random(trials)
    began = time.perf_counter()
    experiment_id = client.create_experiment(f"bench-{trials}-{time.time_ns()}")
    for index in range(trials):
        run = client.create_run(experiment_id, run_name=f"v{index // 100}/seed={index % 25}")
        base, metrics, now = rng.uniform(40.0, 70.0), [], int(time.time() * 1000)
        for e in range(1, EVALS + 1):
            values = {c: min(100.0, max(0.0, base * e / EVALS + rng.gauss(0, 5))) for c in CITYSCAPES_CLASSES}
            step = ITERATIONS * e // EVALS
            metrics += [Metric(f"iou.{c}", v, now, step) for c, v in values.items()]
            metrics.append(Metric("miou", sum(values.values()) / len(values), now, step))
        params = [Param("variant", f"v{index // 100}"), Param("seed", str(index % 25)),
                  Param("sweep.uda.rcs.temperature", "0.1")]
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        with contextlib.redirect_stdout(io.StringIO()):  # MLflow prints two "View run" lines per run
            client.set_terminated(run.info.run_id)
    return experiment_id, time.perf_counter() - began


def results_from_mlflow(url: str, experiment_id: str) -> list[dict[str, Any]]:
    """GET /experiments/{id}/results rebuilt from MLflow: one row per run, finals and best."""
    client = MlflowClient(url)
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            break
    rows = []
    for run in sorted(runs, key=lambda r: r.info.start_time):
        history = client.get_metric_history(run.info.run_id, "miou")
        best = max(history, key=lambda m: m.value)
        metrics = run.data.metrics
        rows.append({
            "name": run.info.run_name, "variant": run.data.params["variant"], "seed": int(run.data.params["seed"]),
            "status": run.info.status, "final_miou": metrics["miou"],
            "final_per_class": {c: metrics[f"iou.{c}"] for c in CITYSCAPES_CLASSES},
            "best_miou": best.value, "best_step": best.step,
        })
    return rows
