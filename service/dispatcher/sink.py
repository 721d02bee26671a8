"""Tune's trial events and cancel polls, written to and read from the service database.

Both classes are pickled by Tune into its experiment state (for `Tuner.restore`), so they hold
the database URL and open their engine lazily in whichever process uses them.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ablations.tracking.replay import summary_artifacts
from service.db.engine import make_engine, session_factory
from service.dispatcher.tracking_state import store_artifacts
from service.errors import InvalidTransitionError, NotFoundError
from service.experiments.models import Experiment
from service.lifecycle import TRIAL_TERMINAL, ExperimentStatus, TrialStatus
from service.trials import repository as trials
from service.trials.models import Trial

log = logging.getLogger(__name__)


class _LazyDatabase:
    """A database URL that becomes an engine on first use and is pickled as the URL alone."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"database_url": self.database_url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["database_url"])  # type: ignore[misc]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        if self._sessions is None:
            self._engine = make_engine(self.database_url)
            self._sessions = session_factory(self._engine)
        with self._sessions.begin() as session:
            yield session


def _floats(values: dict[str, Any]) -> dict[str, float]:
    """Per-class IoUs as plain floats (the trainer reports them in percent already)."""
    return {name: float(v) for name, v in values.items()}


class DatabaseTrialSink(_LazyDatabase):
    """Keeps trial rows true: running, progress, curve points, retries, final results, errors.

    Tune calls it from its driver loop, one result at a time, so a database write per training
    log line would slow every trial of the experiment: plain progress ("train" results) is
    written at most every ``progress_interval_s`` per trial; evaluations, retries and ends always.
    """

    progress_interval_s = 1.0

    def __init__(self, database_url: str) -> None:
        super().__init__(database_url)
        self._progress_written: dict[int, float] = {}

    def trial_started(self, trial_id: int) -> None:
        with self.transaction() as session:
            trial = trials.get_trial(session, trial_id)
            if trial.status == TrialStatus.QUEUED.value:
                trials.set_trial_status(session, trial_id, TrialStatus.RUNNING, reason="started on Ray")

    def trial_result(self, trial_id: int, result: dict[str, Any]) -> None:
        kind, step = result.get("kind"), result.get("step")
        if step is None:
            return
        now = time.monotonic()
        if kind == "train" and now - self._progress_written.get(trial_id, -math.inf) < self.progress_interval_s:
            return
        self._progress_written[trial_id] = now
        with self.transaction() as session:
            total = session.scalar(select(Trial.progress_total).where(Trial.id == trial_id))
            if total is None:
                raise NotFoundError(f"trial {trial_id} does not exist")
            lines = []
            if kind == "train":
                losses = result.get("losses") or {}
                lines.append(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(losses.items())))
            elif kind == "eval":
                trials.record_eval_point(session, trial_id, int(step), _floats(result["per_class_iou"]),
                                         float(result["miou"]))
                lines.append(f"step {step}: eval mIoU={float(result['miou']):.2f}")
            trials.record_progress(session, trial_id, int(step), total, lines)

    def trial_recovering(self, trial_id: int, error: str) -> None:
        with self.transaction() as session:
            trial = trials.get_trial(session, trial_id)
            if trial.status == TrialStatus.RUNNING.value:
                trials.set_trial_status(session, trial_id, TrialStatus.QUEUED,
                                        reason="worker failed; Tune restarts it from its last checkpoint")
            trials.record_progress(session, trial_id, trial.progress_iteration, trial.progress_total,
                                   ["attempt failed, retrying:", *error.strip().splitlines()[-5:]])

    def trial_completed(self, trial_id: int, last_result: dict[str, Any]) -> None:
        summary = last_result.get("summary") if last_result.get("kind") == "end" else None
        with self.transaction() as session:
            trial = trials.get_trial(session, trial_id)
            if trial.status in {s.value for s in TRIAL_TERMINAL}:
                return
            if summary is None:  # stopped by the cancel stopper before the run ended
                trials.finish_trial(session, trial_id, TrialStatus.CANCELLED, reason="stopped on request")
                return
            try:
                trials.finish_trial(
                    session, trial_id, TrialStatus.SUCCEEDED,
                    final_miou=summary.get("final_miou"),
                    final_per_class=_floats(summary.get("final_per_class_iou") or {}),
                    best_miou=summary.get("best_miou"), best_step=summary.get("best_step"),
                    reason="training finished",
                )
                store_artifacts(session, trial_id, summary_artifacts(summary))
            except InvalidTransitionError:
                log.warning("trial %s finished but its row moved on meanwhile", trial_id)

    def trial_failed(self, trial_id: int, error: str) -> None:
        with self.transaction() as session:
            trial = trials.get_trial(session, trial_id)
            if trial.status not in {TrialStatus.RUNNING.value, TrialStatus.QUEUED.value}:
                return
            trials.record_progress(session, trial_id, trial.progress_iteration, trial.progress_total,
                                   error.strip().splitlines()[-20:])
            trials.finish_trial(session, trial_id, TrialStatus.FAILED, error=error.strip()[-2000:],
                                reason="training failed")


class DatabaseCancelPoll(_LazyDatabase):
    """Which trials of one experiment were cancelled, and whether the experiment was."""

    def __init__(self, database_url: str, experiment_id: int) -> None:
        super().__init__(database_url)
        self.experiment_id = experiment_id

    def __getstate__(self) -> dict[str, Any]:
        return {"database_url": self.database_url, "experiment_id": self.experiment_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["database_url"], state["experiment_id"])  # type: ignore[misc]

    def __call__(self) -> tuple[set[int], bool]:
        with self.transaction() as session:
            cancelled = set(session.scalars(select(Trial.id).where(
                Trial.experiment_id == self.experiment_id, Trial.status == TrialStatus.CANCELLED.value)))
            status = session.scalar(select(Experiment.status).where(Experiment.id == self.experiment_id))
        return cancelled, status == ExperimentStatus.CANCELLED.value
