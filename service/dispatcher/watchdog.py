"""A runner lives only as long as its dispatcher and its lease.

A runner (`run_one`) is a child of its dispatcher. When the dispatcher dies without stopping it
(``kill -9``, OOM killer, a lost node), the runner would carry on training, unseen, for as long
as its Ray lets it, while the experiment's lease runs out and another dispatcher starts a second
runner of the same experiment: two drivers writing the same trials and MLflow runs. The
watchdog ends the runner at once (``os._exit``; Ray then stops the trials this driver owns, and
the Tune state on disk is what a successor restores) when:

- its parent process is no longer the dispatcher that started it (the orphan is re-parented,
  checked every ``poll_s``, 0.5 s by default, far below any lease), or
- the experiment's lease row names another dispatcher (it was requeued and claimed elsewhere),
  checked every ``lease_check_s``.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy import select

from service.db.engine import make_engine, session_factory
from service.experiments.models import Experiment

log = logging.getLogger(__name__)

POLL_S = 0.5
"""How often a runner checks that its dispatcher is alive."""

MIN_LEASE_S = 4 * POLL_S
"""The shortest lease a dispatcher accepts: an orphaned runner is gone well before its lease ends,
so the dispatcher that requeues the experiment never starts a second runner beside it."""

EXIT_ORPHANED = 75
"""The runner's exit code when its dispatcher or lease is gone (EX_TEMPFAIL: another resumes it)."""


class RunnerWatchdog:
    """A daemon thread that ends this process when its dispatcher or its lease is gone."""

    def __init__(self, parent_pid: int, database_url: str, experiment_id: int, dispatcher_id: str | None,
                 poll_s: float = POLL_S, lease_check_s: float = 2.0) -> None:
        self.parent_pid = parent_pid
        self.experiment_id = experiment_id
        self.dispatcher_id = dispatcher_id
        self.poll_s = poll_s
        self.lease_check_s = lease_check_s
        self._sessions = session_factory(make_engine(database_url))
        self._thread = threading.Thread(target=self._watch, name="runner-watchdog", daemon=True)

    def start(self) -> None:
        self._check_parent()  # a dispatcher that died before this process started
        self._thread.start()

    def _check_parent(self) -> None:
        if os.getppid() != self.parent_pid:
            self._die(f"its dispatcher (pid {self.parent_pid}) is gone")

    def _check_lease(self) -> None:
        if self.dispatcher_id is None:
            return
        with self._sessions() as session:
            holder = session.scalar(select(Experiment.dispatcher_id).where(Experiment.id == self.experiment_id))
        if holder is not None and holder != self.dispatcher_id:
            self._die(f"its lease passed to dispatcher {holder}")

    def _watch(self) -> None:
        next_lease_check = time.monotonic() + self.lease_check_s
        while True:
            time.sleep(self.poll_s)
            self._check_parent()
            if time.monotonic() >= next_lease_check:
                try:
                    self._check_lease()
                except Exception as exc:  # a database hiccup is not a lost lease; check again later
                    log.warning("experiment %s: could not read its lease: %s", self.experiment_id, exc)
                next_lease_check = time.monotonic() + self.lease_check_s

    def _die(self, reason: str) -> None:
        log.error("experiment %s: runner stops at once: %s; another dispatcher resumes it", self.experiment_id,
                  reason)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_ORPHANED)
