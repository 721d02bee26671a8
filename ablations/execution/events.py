"""Driver-side view of trial life cycles: Tune's callbacks turned into calls on a sink.

The dispatcher implements `TrialEventSink` over the database; this module only translates Tune's
events (with Tune's trial objects) into the service's trial ids and plain dicts. The callback is
pickled by Tune into its experiment state (for `Tuner.restore`), so sinks must be picklable:
hold a database URL, not an open engine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from ray.tune import Callback

from ablations.execution.failures import format_error
from ablations.execution.payload import service_trial_id

log = logging.getLogger(__name__)


class TrialEventSink(Protocol):
    """What the dispatcher does when a trial starts, reports, restarts, finishes or fails."""

    def trial_started(self, trial_id: int) -> None: ...

    def trial_result(self, trial_id: int, result: dict[str, Any]) -> None: ...

    def trial_recovering(self, trial_id: int, error: str) -> None: ...

    def trial_completed(self, trial_id: int, last_result: dict[str, Any]) -> None: ...

    def trial_failed(self, trial_id: int, error: str) -> None: ...


def error_text(trial: Any) -> str:
    """The trial's error as Tune recorded it (the worker's traceback): a headline, then its end."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        return format_error(Path(path).read_text(errors="replace"))
    return f"training failed: trial {trial} errored (Tune kept no error file)"


class TrialEventsCallback(Callback):
    """Routes Tune's trial events to a `TrialEventSink`; a failing sink never kills the run."""

    def __init__(self, sink: TrialEventSink) -> None:
        self.sink = sink

    def _call(self, name: str, *args: Any) -> None:
        try:
            getattr(self.sink, name)(*args)
        except Exception:  # the run must outlive a bookkeeping failure; it is logged loudly
            log.exception("trial event %s failed", name)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._call("trial_started", service_trial_id(trial.config))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._call("trial_result", service_trial_id(trial.config), result)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._call("trial_recovering", service_trial_id(trial.config), error_text(trial))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = dict(trial.last_result or {})
        if last.get("kind") == "failed":  # a deterministic failure the trainable ended without a retry
            self._call("trial_failed", service_trial_id(trial.config), str(last.get("error") or "training failed"))
            return
        self._call("trial_completed", service_trial_id(trial.config), last)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._call("trial_failed", service_trial_id(trial.config), error_text(trial))
