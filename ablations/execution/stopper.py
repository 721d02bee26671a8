"""Cancellation: a Tune stopper that asks the service which trials were cancelled.

Tune calls a stopper after every report of a trial, so a cancelled trial stops within one report
interval. The poll is rate-limited so a fast-reporting trial does not hammer the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray.tune import Stopper

from ablations.execution.payload import service_trial_id

CancelPoll = Callable[[], tuple[set[int], bool]]
"""Returns (cancelled service trial ids, whether the whole experiment is cancelled)."""


class CancelStopper(Stopper):
    """Stops trials whose service row says cancelled; stops everything when the experiment is."""

    def __init__(self, poll: CancelPoll, min_interval_s: float = 1.0) -> None:
        self.poll = poll
        self.min_interval_s = min_interval_s
        self._checked_at = float("-inf")
        self._cancelled: set[int] = set()
        self._all = False

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked_at >= self.min_interval_s:
            self._cancelled, self._all = self.poll()
            self._checked_at = now

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self._refresh()
        config = result.get("config")
        return self._all or (config is not None and service_trial_id(config) in self._cancelled)

    def stop_all(self) -> bool:
        self._refresh()
        return self._all
