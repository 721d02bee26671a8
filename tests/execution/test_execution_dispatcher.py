"""`ablate dispatcher` processes: one killed mid-experiment (kill -9 of its whole session, its
local Ray included) is replaced by another that restores the Tune experiment: the finished
trial is not re-run, the interrupted one resumes from its checkpoint, MLflow runs are not
duplicated. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from execution_helpers import experiment_status, submit, tiny_spec, trial_rows, wait_until
from mlflow.tracking import MlflowClient

from service.settings import Settings

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _kill_session(sid: int) -> None:
    """SIGKILL every process of a session: the dispatcher, its runner, its Ray and Ray's workers."""
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getsid(process.pid) == sid:
                process.kill()
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue


class DispatcherProcess:
    def __init__(self, settings: Settings, log: Path) -> None:
        env = {**os.environ, "ABLATE_DATABASE_URL": settings.database_url,
               "ABLATE_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
               "ABLATE_STORAGE_PATH": settings.storage_path, "RAY_AUTH_MODE": "disabled",
               "RAY_USAGE_STATS_ENABLED": "0"}
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "dispatcher", "--lease", "4", "--poll-interval", "0.5"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        _kill_session(self.process.pid)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        _kill_session(self.process.pid)
        self._log.close()


@pytest.fixture
def dispatchers() -> Iterator[list[DispatcherProcess]]:
    started: list[DispatcherProcess] = []
    yield started
    for d in started:
        d.stop()


def test_killed_dispatcher_is_resumed_by_the_next(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                                  mlflow_server: Any, dispatchers: list[DispatcherProcess]) -> None:
    # A relative storage path, as the default ./.ablate/ray_results is (Tune's restore needs it absolute).
    settings = Settings(database_url=migrated_url, mlflow_tracking_uri=mlflow_server.url,
                        storage_path=os.path.relpath(tmp_path / "tune", ROOT))
    spec = tiny_spec(tiny_bench, iterations=60, variants=[{"name": "short", "overrides": {"run.iterations": 6}},
                                                          {"name": "long"}])
    spec["base"]["run"].update(eval_interval=30, checkpoint_interval=10)
    spec["variants"][0]["overrides"].update({"run.eval_interval": 3, "run.checkpoint_interval": 3})
    experiment_id = submit(settings, spec)
    dispatchers.append(DispatcherProcess(settings, tmp_path / "dispatcher-1.log"))

    def progressed() -> bool:
        rows = {r["name"].split("/")[0]: r for r in trial_rows(settings, experiment_id)}
        return rows["short"]["status"] == "succeeded" and rows["long"]["progress"] >= 15

    wait_until(progressed, timeout_s=240, what="one trial finished and the other past a checkpoint")
    before = {r["name"]: r for r in trial_rows(settings, experiment_id)}
    dispatchers[0].kill()
    assert experiment_status(settings, experiment_id) == "running"  # nobody said otherwise

    dispatchers.append(DispatcherProcess(settings, tmp_path / "dispatcher-2.log"))
    wait_until(lambda: experiment_status(settings, experiment_id) == "succeeded", timeout_s=300,
               what="the second dispatcher to finish the experiment")
    after = {r["name"]: r for r in trial_rows(settings, experiment_id)}
    short, long = (n for n in after if n.startswith("short")), (n for n in after if n.startswith("long"))
    short_name, long_name = next(short), next(long)
    assert after[short_name]["attempts"] == 1 and after[short_name]["final_miou"] == before[short_name]["final_miou"]
    assert after[long_name]["status"] == "succeeded" and after[long_name]["attempts"] == 2
    assert any("dispatcher stopped" in reason for _, _, reason in after[long_name]["history"])
    assert {r["mlflow_run_id"] for r in after.values()} == {r["mlflow_run_id"] for r in before.values()}
    client = MlflowClient(mlflow_server.url)
    runs = client.search_runs([client.get_run(after[long_name]["mlflow_run_id"]).info.experiment_id])
    assert len(runs) == 3  # the parent and one run per trial: nothing duplicated
