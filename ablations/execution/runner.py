"""One service experiment = one Ray Tune experiment of already-resolved trials.

No search spaces: the grid is expanded by `ablations.expand` before it gets here, and Tune only
iterates over the list of trial payloads. Resources per trial come from the spec (fractional
GPUs let several small trials share a GPU); a grid larger than the cluster queues inside Tune.
A dispatcher that died mid-experiment calls `run_experiment(..., restore=True)`: Tune resumes
unfinished and errored trials from their last checkpoints and never re-runs finished ones.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune import Callback

from ablations.execution.events import TrialEventsCallback, TrialEventSink
from ablations.execution.payload import PAYLOAD_KEY, TrialPayload
from ablations.execution.stopper import CancelPoll, CancelStopper
from ablations.execution.trainable import ReporterFactory, run_trial

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialResources:
    """Per-trial resources: CPUs and a (possibly fractional) GPU share."""

    cpus: float = 1.0
    gpus: float = 0.0

    def as_tune(self) -> dict[str, float]:
        return {"cpu": self.cpus, "gpu": self.gpus}


@dataclass(frozen=True)
class ExperimentRun:
    """What to run and where: the Tune experiment's name under ``storage_path``."""

    name: str
    payloads: Sequence[TrialPayload]
    resources: TrialResources
    storage_path: str
    max_failures: int = 2
    reporter_factories: Sequence[ReporterFactory] = ()
    callbacks: Sequence[Callback] = ()
    """More Tune callbacks (e.g. `preflight.WaitingWatch`); picklable, as Tune stores them."""

    @property
    def path(self) -> Path:
        return Path(self.storage_path).resolve() / self.name

    @property
    def checkpoints_to_keep(self) -> int:
        """Tune keeps this many resume checkpoints per trial: the trials' ``run.keep_checkpoints``
        (Tune's setting is per experiment, so the largest when trials differ)."""
        return max((int(p.train_config.get("run", {}).get("keep_checkpoints", 1)) for p in self.payloads), default=1)


def _trainable(run: ExperimentRun) -> Any:
    fn = tune.with_parameters(run_trial, reporter_factories=list(run.reporter_factories))
    return tune.with_resources(fn, run.resources.as_tune())


def _run_config(run: ExperimentRun, sink: TrialEventSink, cancel_poll: CancelPoll) -> tune.RunConfig:
    return tune.RunConfig(
        name=run.name,
        storage_path=str(Path(run.storage_path).resolve()),
        failure_config=tune.FailureConfig(max_failures=run.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=run.checkpoints_to_keep),
        callbacks=[TrialEventsCallback(sink), *run.callbacks],
        stop=CancelStopper(cancel_poll),
        verbose=0,
    )


def can_restore_path(path: Path) -> bool:
    """Whether Tune state of an experiment exists at ``path`` (a previous driver started it).

    Tune wants an absolute path or URI (a relative one is parsed as a URI without a scheme)."""
    path = path.resolve()
    return path.is_dir() and tune.Tuner.can_restore(str(path))


def build_tuner(
    run: ExperimentRun, sink: TrialEventSink, cancel_poll: CancelPoll, restore: bool
) -> tune.Tuner:
    """A fresh Tuner over the payloads, or the restored one when Tune state exists."""
    run_config = _run_config(run, sink, cancel_poll)
    if restore and can_restore_path(run.path):
        log.info("restoring Tune experiment %s", run.path)
        tuner = tune.Tuner.restore(
            str(run.path), trainable=_trainable(run), resume_unfinished=True, resume_errored=True
        )
        # The pickled run config holds the old callbacks and stopper; use this process's ones.
        config = tuner._local_tuner.get_run_config()  # type: ignore[union-attr]
        config.callbacks = run_config.callbacks
        config.stop = run_config.stop
        return tuner
    return tune.Tuner(
        _trainable(run),
        param_space={PAYLOAD_KEY: tune.grid_search([p.to_dict() for p in run.payloads])},
        tune_config=tune.TuneConfig(reuse_actors=True, num_samples=1),
        run_config=run_config,
    )


def run_experiment(
    run: ExperimentRun, sink: TrialEventSink, cancel_poll: CancelPoll, restore: bool = False
) -> tune.ResultGrid:
    """Run (or resume) every trial to completion, failure or cancellation; blocks until done."""
    return build_tuner(run, sink, cancel_poll, restore).fit()
