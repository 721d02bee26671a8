"""The dispatcher process (`ablate dispatcher`): claim, run, heartbeat, reclaim.

Safe with several dispatchers on one database: claiming is atomic (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a conditional UPDATE on SQLite), and an experiment whose dispatcher died is requeued
once its heartbeat is older than the lease, then restored from its Tune state. Each claimed
experiment runs in a child process (`run_one`), all sharing this dispatcher's Ray; a child ends
itself as soon as this process is gone (`watchdog`). Ended experiments whose MLflow tracking is
still pending (MLflow was down) are replayed by a ``run_one --sync-only`` child every
``sync_interval_s`` until MLflow holds all of them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from ablations.execution.ray_runtime import connect
from ablations.tracking import code_version
from service.db.engine import make_engine, session_factory
from service.dispatcher import leases, tracking_state
from service.dispatcher.watchdog import EXIT_ORPHANED, MIN_LEASE_S, POLL_S
from service.experiments import repository as experiments
from service.lifecycle import ExperimentStatus
from service.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatcherOptions:
    poll_interval_s: float = 2.0
    lease_s: float = 30.0
    max_concurrent: int = 4
    max_failures: int = 2
    sync_interval_s: float = 15.0
    """Seconds between two MLflow replays of one ended experiment whose tracking is pending."""


class Dispatcher:
    """Runs queued experiments until stopped; ``stop()`` (or SIGTERM/SIGINT) ends it cleanly."""

    def __init__(self, settings: Settings, options: DispatcherOptions | None = None) -> None:
        self.settings = settings
        self.options = options or DispatcherOptions()
        if self.options.lease_s < MIN_LEASE_S:
            raise ValueError(f"--lease must be at least {MIN_LEASE_S:g} s (a runner needs up to {POLL_S:g} s to "
                             f"notice its dispatcher is gone), got {self.options.lease_s:g}")
        self.dispatcher_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._sessions = session_factory(make_engine(settings.database_url))
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()
        self._ray_address: str | None = None
        self._code_version = code_version()
        self._next_sync: dict[int, float] = {}

    def stop(self) -> None:
        self._stop.set()

    def _connect_ray(self) -> None:
        self._ray_address = connect(self.settings.ray_address)
        log.info("dispatcher %s on Ray %s", self.dispatcher_id, self._ray_address)

    def _spawn(self, experiment_id: int, *extra: str) -> None:
        earlier = self._children.get(experiment_id)
        if earlier is not None:  # an MLflow replay of an experiment retried meanwhile: let it finish
            earlier.wait(timeout=300)
        command = [sys.executable, "-m", "service.dispatcher.run_one", str(experiment_id),
                   "--ray-address", str(self._ray_address), "--code-version", self._code_version,
                   "--max-failures", str(self.options.max_failures), "--parent-pid", str(os.getpid()),
                   "--dispatcher-id", self.dispatcher_id, *extra]
        self._children[experiment_id] = subprocess.Popen(command)
        log.info("experiment %s: %s (pid %s)", experiment_id, "MLflow replay" if extra else "started",
                 self._children[experiment_id].pid)

    def _sync_pending(self) -> None:
        """Start one MLflow replay of an ended experiment whose tracking is pending, if one is due."""
        if len(self._children) >= self.options.max_concurrent:
            return
        now = time.monotonic()
        waiting = [i for i, due in self._next_sync.items() if due > now]
        with self._sessions.begin() as session:
            experiment_id = tracking_state.claim_pending_sync(
                session, self.dispatcher_id, timedelta(seconds=self.options.lease_s), [*self._children, *waiting])
        if experiment_id is not None:
            self._next_sync[experiment_id] = now + self.options.sync_interval_s
            self._spawn(experiment_id, "--sync-only")

    def _reap(self) -> None:
        for experiment_id, child in list(self._children.items()):
            code = child.poll()
            if code is None:
                continue
            del self._children[experiment_id]
            if code == EXIT_ORPHANED:
                log.warning("experiment %s: its runner stopped: its lease passed to another dispatcher", experiment_id)
            elif code != 0:
                self._fail(experiment_id, f"its runner process exited with code {code}")

    def _fail(self, experiment_id: int, reason: str) -> None:
        """Fail the experiment this dispatcher still holds (never one another dispatcher took over)."""
        with self._sessions.begin() as session:
            experiment = experiments.get_experiment(session, experiment_id, fresh=True)
            if experiment.status == ExperimentStatus.RUNNING.value and experiment.dispatcher_id == self.dispatcher_id:
                experiments.set_experiment_status(session, experiment_id, ExperimentStatus.FAILED,
                                                  reason=reason, error=reason)

    def tick(self) -> None:
        """One round: reap children, heartbeat, requeue abandoned experiments, claim new ones."""
        self._reap()
        with self._sessions.begin() as session:
            leases.heartbeat(session, list(self._children), self.dispatcher_id)
        with self._sessions.begin() as session:
            requeued = leases.requeue_abandoned(session, timedelta(seconds=self.options.lease_s))
        for experiment_id in requeued:
            log.warning("experiment %s: its dispatcher stopped; requeued for resumption", experiment_id)
        while len(self._children) < self.options.max_concurrent:
            with self._sessions.begin() as session:
                claimed = experiments.claim_next_queued_experiment(session, reason=f"claimed by {self.dispatcher_id}")
                if claimed is None:
                    break
                leases.take(session, claimed.id, self.dispatcher_id)
            self._next_sync[claimed.id] = time.monotonic() + self.options.sync_interval_s
            self._spawn(claimed.id)
        self._sync_pending()

    def run(self) -> None:
        """Serve until stopped. Children are asked to stop (SIGTERM) when the dispatcher stops."""
        self._connect_ray()
        try:
            while not self._stop.is_set():
                self.tick()
                self._stop.wait(self.options.poll_interval_s)
        finally:
            for child in self._children.values():
                child.send_signal(signal.SIGTERM)
            for child in self._children.values():
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()


def serve(settings: Settings, options: DispatcherOptions | None = None) -> None:
    """Entry point of `ablate dispatcher`: SIGINT/SIGTERM stop it cleanly."""
    dispatcher = Dispatcher(settings, options)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: dispatcher.stop())
    dispatcher.run()
