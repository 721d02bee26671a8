"""Days of unattended training: the storage path holds K resume checkpoints per trial and no
temporary files, and a trial that fails the same way every time fails once, with a readable error.

Real trainer trials on a local Ray; the failure test goes through the service's dispatcher code
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from execution_helpers import claim, submit, tiny_spec, trial_rows

from ablations.disk import checkpoint_bytes
from ablations.expand import expand
from ablations.spec import AblationSpec
from service.dispatcher.experiment_run import run_claimed_experiment
from service.settings import Settings

pytestmark = pytest.mark.slow


class _NoSink:
    """A sink that records nothing: these runs are checked on disk, not in a database."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None


def _run(bench: Path, storage: Path, keep: int) -> tuple[Path, list[dict[str, Any]]]:
    from ablations.execution.payload import TrialPayload
    from ablations.execution.runner import ExperimentRun, TrialResources, run_experiment

    spec = tiny_spec(bench, iterations=8)
    spec["base"]["run"].update(checkpoint_interval=2, eval_interval=4, keep_checkpoints=keep)
    plans = expand(AblationSpec.model_validate(spec))
    payloads = [TrialPayload(trial_id=i + 1, name=p.name, train_config=p.config) for i, p in enumerate(plans)]
    run = ExperimentRun(name=f"keep{keep}", payloads=payloads, resources=TrialResources(1, 0),
                        storage_path=str(storage))
    run_experiment(run, _NoSink(), lambda: (set(), False))  # type: ignore[arg-type]
    return run.path, [p.config for p in plans]


@pytest.mark.parametrize("keep", [1, 2])
def test_storage_keeps_k_resume_checkpoints_per_trial_and_no_temporary_files(
    tiny_bench: Path, local_ray: None, tmp_path: Path, keep: int
) -> None:
    path, configs = _run(tiny_bench, tmp_path / "tune", keep)
    trial_dirs = sorted(p for p in path.iterdir() if p.is_dir() and p.name.startswith("run_trial"))
    assert len(trial_dirs) == 2
    for trial_dir in trial_dirs:
        kept = sorted(p.name for p in trial_dir.rglob("iter_*.pt"))
        # 4 checkpoints were written (steps 2, 4, 6, 8); the newest K stay, in Tune's folders.
        assert kept == [f"iter_{step:08d}.pt" for step in (2, 4, 6, 8)[-keep:]], (trial_dir, kept)
        assert len(list(trial_dir.glob("checkpoint_*"))) == keep
    sizes = [p.stat().st_size for p in path.rglob("iter_*.pt")]
    estimate = checkpoint_bytes(configs[0])  # full UDA with FD from a random encoder: the larger variant
    assert max(sizes) <= estimate <= max(sizes) * 1.02, (sizes, estimate)
    leftovers = [p for p in path.rglob("*") if p.name.endswith(".tmp") or p.suffix == ".pt" and "iter_" not in p.name]
    assert leftovers == [], leftovers


def test_a_diverging_trial_fails_once_with_a_readable_error(migrated_url: str, tmp_path: Path, tiny_bench: Path,
                                                             local_ray: None) -> None:
    settings = Settings(database_url=migrated_url, mlflow_tracking_uri="http://127.0.0.1:9",
                        storage_path=str(tmp_path / "tune"))
    spec = tiny_spec(tiny_bench, iterations=6, variants=[{"name": "diverges", "overrides": {"optim.lr": 1e30}}])
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    assert run_claimed_experiment(settings, experiment_id, "test", max_failures=2).value == "failed"
    (row,) = trial_rows(settings, experiment_id)
    assert row["status"] == "failed" and row["attempts"] == 1, row  # not retried: it would diverge again
    first, *rest = row["error"].splitlines()
    assert first.startswith("training failed: TrainingDiverged: a loss became NaN or infinite"), first
    assert "\x1b" not in row["error"] and "Traceback" in row["error"]
    assert "TrainingDiverged: a loss became NaN" in rest[-1], rest[-3:]  # the traceback's end is kept


def test_cancelling_one_trial_lets_the_experiment_finish_as_its_other_trials(
    migrated_url: str, tmp_path: Path, tiny_bench: Path, local_ray: None
) -> None:
    from execution_helpers import Background, wait_until

    from service.db.engine import make_engine, session_factory
    from service.trials import service as trial_service

    settings = Settings(database_url=migrated_url, mlflow_tracking_uri="http://127.0.0.1:9",
                        storage_path=str(tmp_path / "tune"))
    spec = tiny_spec(tiny_bench, iterations=6, variants=[
        {"name": "short"}, {"name": "long", "overrides": {"run.iterations": 300, "run.eval_interval": 100}}])
    experiment_id = submit(settings, spec)
    claim(settings, experiment_id)
    run = Background(lambda: run_claimed_experiment(settings, experiment_id, "test"))

    def long_row() -> dict[str, Any]:
        return next(r for r in trial_rows(settings, experiment_id) if r["name"].startswith("long"))

    wait_until(lambda: long_row()["progress"] >= 2, what="the long trial to report progress")
    with session_factory(make_engine(settings.database_url)).begin() as session:
        trial_service.cancel(session, long_row()["id"])
    assert run.join().value == "succeeded"
    rows = {r["name"].split("/")[0]: r for r in trial_rows(settings, experiment_id)}
    assert rows["short"]["status"] == "succeeded" and rows["long"]["status"] == "cancelled"
    assert rows["long"]["progress"] < 300
