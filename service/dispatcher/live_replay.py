"""Curves of untracked trials reach MLflow while they still run, once MLflow is back.

Trials that started while MLflow was down run without a live reporter (their payloads carry no
run id, and a running Ray worker cannot be handed one). For days-long experiments waiting for
the end to see any curve would be too long, so while Tune runs, the experiment's runner retries
every ``interval_s``: it opens the missing runs and sends the evaluations the database already
holds. Only this thread writes to those runs (their trials have no reporter), and the points are
sent where the run lacks their (key, step), so the final replay (`tracking_sync`) adds only what
came after. Run ends, files, tables and figures wait for the end of the experiment.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ablations.tracking import make_client
from ablations.tracking.replay import log_missing, record_metrics
from service.dispatcher import tracking_state as state
from service.dispatcher.tracking import open_runs
from service.settings import Settings
from service.trials import repository as trials

log = logging.getLogger(__name__)


class LiveReplay:
    """A daemon thread sending the database's curve points of untracked trials to MLflow."""

    def __init__(self, sink: Any, settings: Settings, experiment_id: int, trial_ids: list[int],
                 interval_s: float = 10.0) -> None:
        self.sink, self.settings, self.experiment_id = sink, settings, experiment_id
        self.trial_ids = set(trial_ids)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlflow-live-replay", daemon=True)

    def __enter__(self) -> LiveReplay:
        if self.trial_ids:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                sent = self.once()
            except Exception as exc:  # MLflow still down: the next round tries again
                log.debug("experiment %s: MLflow still unreachable: %s", self.experiment_id, exc)
                continue
            if sent:
                log.info("experiment %s: %d curve points of untracked trials sent to MLflow", self.experiment_id,
                         sent)

    def once(self) -> int:
        """Open the runs and send the points they lack; returns how many were sent."""
        open_runs(self.sink, self.settings, self.experiment_id)
        client = make_client(self.settings.mlflow_tracking_uri)
        with self.sink.transaction() as session:
            todo = [(t.mlflow_run_id, state.trial_record(session, t))
                    for t in trials.list_trials(session, self.experiment_id)
                    if t.id in self.trial_ids and t.mlflow_run_id]
            state.set_experiment_tracking(
                session, self.experiment_id, state.PENDING,
                f"MLflow at {self.settings.mlflow_tracking_uri} is back: runs opened, the curves of trials that "
                f"started without it are sent every {self.interval_s:g} s; the rest follows the end")
        sent = 0
        for run_id, record in todo:
            sent += log_missing(client, str(run_id), record_metrics(record))[0]
        return sent
