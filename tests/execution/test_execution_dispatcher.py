"""`ablate dispatcher` processes: one killed mid-experiment (kill -9 of its whole session, its
local Ray included) is replaced by another that restores the Tune experiment: the finished
trial is not re-run, the interrupted one resumes from its checkpoint, MLflow runs are not
duplicated. A dispatcher killed alone takes its runner with it at once, and the resumed trial
logs no (key, step) twice even when it restarts before its last logged evaluation. On SQLite
and PostgreSQL.
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

from ablations.tracking.replay import duplicate_points
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


def _tracking_status(settings: Settings, experiment_id: int) -> str:
    from service.db.engine import make_engine, session_factory
    from service.experiments import repository as experiments

    with session_factory(make_engine(settings.database_url)).begin() as session:
        return str(experiments.get_experiment(session, experiment_id).tracking_status)


def _runner_of(dispatcher: DispatcherProcess) -> psutil.Process:
    found: list[psutil.Process] = []

    def started() -> bool:
        found[:] = [c for c in psutil.Process(dispatcher.process.pid).children()
                    if "service.dispatcher.run_one" in " ".join(c.cmdline())]
        return bool(found)

    wait_until(started, timeout_s=60, what="the dispatcher's runner process")
    return found[0]


def _trial_workers_in_session(sid: int) -> list[psutil.Process]:
    out = []
    for process in psutil.process_iter(["pid", "cmdline", "name"]):
        try:
            title = " ".join(process.info.get("cmdline") or []) + " " + (process.info.get("name") or "")
            if "ImplicitFunc" in title and os.getsid(process.pid) == sid:
                out.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess, PermissionError):
            continue
    return out


def test_a_dispatcher_killed_alone_takes_its_runner_and_nothing_is_logged_twice(
        migrated_url: str, tmp_path: Path, tiny_bench: Path, mlflow_server: Any,
        dispatchers: list[DispatcherProcess]) -> None:
    settings = Settings(database_url=migrated_url, mlflow_tracking_uri=mlflow_server.url,
                        storage_path=str(tmp_path / "tune"))
    spec = tiny_spec(tiny_bench, iterations=40, variants=[{"name": "long"}])
    spec["base"]["run"].update(eval_interval=10, checkpoint_interval=30)  # evaluations 10 and 20 precede
    experiment_id = submit(settings, spec)                                  # the first checkpoint
    dispatchers.append(DispatcherProcess(settings, tmp_path / "dispatcher-1.log"))
    runner = _runner_of(dispatchers[0])
    wait_until(lambda: len(trial_rows(settings, experiment_id)[0]["curve"]) >= 2 and
               trial_rows(settings, experiment_id)[0]["progress"] >= 22, timeout_s=240,
               what="evaluations 10 and 20, before any checkpoint")
    os.kill(dispatchers[0].process.pid, signal.SIGKILL)  # the dispatcher alone, not its session
    _, alive = psutil.wait_procs([runner], timeout=5)
    assert not alive, "the runner outlived its dispatcher"
    wait_until(lambda: not _trial_workers_in_session(dispatchers[0].process.pid), timeout_s=30,
               what="the old runner's trial worker to stop")
    dispatchers[0].kill()  # what is left of its session: its local Ray

    dispatchers.append(DispatcherProcess(settings, tmp_path / "dispatcher-2.log"))
    wait_until(lambda: _tracking_status(settings, experiment_id) == "complete", timeout_s=300,
               what="the second dispatcher to finish and publish the experiment")
    assert experiment_status(settings, experiment_id) == "succeeded"
    row = trial_rows(settings, experiment_id)[0]
    assert row["attempts"] == 2 and [p["step"] for p in row["curve"]] == [10, 20, 30, 40]
    client = MlflowClient(mlflow_server.url)
    run = client.get_run(row["mlflow_run_id"])
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "val/mIoU")) == [10, 20, 30, 40]
    assert duplicate_points(client, run.info.run_id) == {}
    assert run.info.status == "FINISHED"
    assert client.get_run(run.data.tags["mlflow.parentRunId"]).info.status == "FINISHED"


def test_a_lease_shorter_than_the_runner_watchdog_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "ABLATE_DATABASE_URL": f"sqlite:///{tmp_path / 'ablate.db'}"}
    done = subprocess.run([sys.executable, "-m", "service", "dispatcher", "--lease", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--lease must be at least 2 s" in done.stderr and "Traceback" not in done.stderr
