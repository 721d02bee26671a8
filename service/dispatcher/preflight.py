"""The dispatcher's checks before Tune starts, and the experiment's notice while trials wait.

`preflight` runs after the trials to run are known and before Tune sees them:
- no node can ever hold a trial (a GPU preset on a CPU-only cluster, more CPUs than any node
  has): the experiment fails at once with that reason instead of waiting forever;
- the storage path cannot hold the estimated peak of the resume checkpoints: the same (the
  estimate is made here when the API could not make it without torch);
- a dataset root, its RCS statistics or a pretrained file is missing on a node that could run
  the trial: those trials fail (one attempt, the error naming the path and the node), the others
  run, and the experiment's notice says what was found.
`NoticeWriter` is the picklable callable `ablations.execution.preflight.WaitingWatch` writes with.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from ablations.disk import peak_bytes, storage_shortfall
from ablations.execution.payload import TrialPayload
from ablations.execution.preflight import (
    WaitingWatch,
    alive_nodes,
    cluster_problem,
    fits,
    missing_paths,
    required_paths,
)
from service.db.engine import make_engine, session_factory
from service.errors import NotFoundError
from service.experiments.models import Experiment
from service.lifecycle import TrialStatus
from service.settings import Settings
from service.trials import repository as trials

log = logging.getLogger(__name__)


class NoticeWriter:
    """Sets ``experiments.notice`` of one experiment; pickled as its URL and id (Tune callbacks)."""

    def __init__(self, database_url: str, experiment_id: int) -> None:
        self.database_url, self.experiment_id = database_url, experiment_id
        self._engine: Engine | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"database_url": self.database_url, "experiment_id": self.experiment_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["database_url"], state["experiment_id"])  # type: ignore[misc]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        with session_factory(self._engine).begin() as session:
            yield session

    def __call__(self, message: str | None, error: str | None = None) -> None:
        """A plain UPDATE (no version bump): a notice never conflicts with a status change."""
        values: dict[str, Any] = {"notice": message}
        if error is not None:
            values["error"] = error
        with self.transaction() as session:
            session.execute(update(Experiment).where(Experiment.id == self.experiment_id).values(**values))


    def set_estimate(self, estimate: int | None) -> None:
        with self.transaction() as session:
            session.execute(
                update(Experiment).where(Experiment.id == self.experiment_id).values(disk_estimate_bytes=estimate))

    def current(self) -> Experiment:
        with self.transaction() as session:
            experiment = session.get(Experiment, self.experiment_id)
            if experiment is None:
                raise NotFoundError(f"experiment {self.experiment_id} does not exist")
            session.expunge(experiment)
            return experiment


def waiting_watch(settings: Settings, experiment_id: int, resources: dict[str, Any]) -> WaitingWatch:
    """The Tune callback that writes "waiting for resources: ..." on the experiment, and puts the
    preflight's notice back once nothing waits."""
    cpus, gpus = _resources(resources)
    writer = NoticeWriter(settings.database_url, experiment_id)
    return WaitingWatch(writer, cpus, gpus, idle_message=writer.current().notice)


def _resources(resources: dict[str, Any]) -> tuple[float, float]:
    return float(resources.get("cpus", 1)), float(resources.get("gpus", 0))


def _fail(writer: NoticeWriter, trial_ids: Sequence[int], error: str, reason: str) -> None:
    """Fail trials that cannot run: one attempt (running -> failed) with the error in their log."""
    with writer.transaction() as session:
        for trial_id in trial_ids:
            trial = trials.get_trial(session, trial_id)
            if trial.status == TrialStatus.QUEUED.value:
                trials.set_trial_status(session, trial_id, TrialStatus.RUNNING, reason="preflight check")
            trials.record_progress(session, trial_id, trial.progress_iteration, trial.progress_total,
                                   error.splitlines())
            trials.finish_trial(session, trial_id, TrialStatus.FAILED, error=error, reason=reason)


def preflight(settings: Settings, experiment_id: int, payloads: Sequence[TrialPayload],
              resources: dict[str, Any]) -> list[TrialPayload]:
    """Check the cluster, the storage and every trial's paths; returns the trials that may run."""
    if not payloads:
        return []
    writer = NoticeWriter(settings.database_url, experiment_id)
    cpus, gpus = _resources(resources)
    nodes = alive_nodes()
    estimate = writer.current().disk_estimate_bytes
    if estimate is None:  # a network the API could not count without torch: count it here
        estimate = peak_bytes(p.train_config for p in payloads)
        writer.set_estimate(estimate)
    problem = cluster_problem(nodes, cpus, gpus) or storage_shortfall(settings.storage_path, estimate)
    if problem:
        log.error("experiment %s cannot run: %s", experiment_id, problem)
        _fail(writer, [p.trial_id for p in payloads], problem, "preflight: cannot run")
        writer(f"preflight failed: {problem}", error=problem)
        return []
    able = [n for n in nodes if fits(n, cpus, gpus)]
    missing = missing_paths([p.train_config for p in payloads], able)
    if not missing:
        writer(f"preflight: data and weights found on {len(able)} node(s) that can run the trials")
        return list(payloads)
    runnable, lines = [], []
    for payload in payloads:
        lacking = [p for p in required_paths(payload.train_config) if p in missing]
        if not lacking:
            runnable.append(payload)
            continue
        error = "preflight: missing " + "; ".join(f"{p} (on {', '.join(missing[p])})" for p in lacking)
        _fail(writer, [payload.trial_id], error, "preflight: data or weights missing")
        lines.append(f"{payload.name}: {error}")
    summary = f"preflight failed for {len(lines)} trial(s) (the others run): " + " | ".join(lines)
    writer(summary[:4000], error=summary[:4000])
    return runnable
