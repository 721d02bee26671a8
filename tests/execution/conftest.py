"""Fixtures of the execution tests: a tiny synthetic benchmark, a real local Ray, a real MLflow server.

Nothing here is mocked: trials are the real DAFormer trainer (MiT-B0 with a narrow head on
64x64 crops), run as Ray Tune trials on a local Ray, logging to a real `mlflow server`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trainer.data.prepare import prepare
    from trainer.data.synthetic.writer import write_dataset

    out = tmp_path_factory.mktemp("bench")
    write_dataset(out, (12, 8, 3), (64, 128), seed=0)
    prepare("gta", out / "gta", workers=1)
    prepare("cityscapes", out / "cityscapes", workers=1)
    return out


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    from ablations.execution.ray_runtime import connect

    connect(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ablations.tracking import start_mlflow_server

    root = tmp_path_factory.mktemp("mlflow")
    with start_mlflow_server(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts",
                             log_path=root / "server.log") as server:
        yield server
