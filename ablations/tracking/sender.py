"""Sending metric batches to MLflow without ever letting an outage fail or stall a trial.

Choice: a bounded attempt per call with backoff timestamps, not a background thread. The trainer
calls the reporter from its single loop thread; a sender attempt happens only there, at most one
``log_batch`` request per chunk of 1000 metrics, and while the server is unreachable an attempt is
made only when the backoff deadline has passed (1 s, 2 s, 4 s ... capped at 60 s). With MLflow's
own retries switched off and a short HTTP timeout (``client.configure_http_timeouts``), a refused
connection costs a few milliseconds and a black-holed one at most one timeout per backoff period,
which is small against an evaluation pass. In exchange there is no thread to start, join, or leak
when a Ray worker is killed, no locking, and the order of metrics is the order they were reported.

Memory is bounded: at most ``max_pending`` metrics wait; beyond that the oldest are dropped and
counted, and the count is reported in the trial's log when the server comes back.

Idempotent per (run, key, step): a trial resumed from a checkpoint older than its last logged
evaluation (a killed worker or dispatcher) reports those steps again. Before its first send the
sender reads, once, the highest step the run already holds for each key (``high_water``) and
from then on sends a metric only if its step is above its key's mark; the marks advance with
every send. Steps of one key only grow within a run (iterations), so this drops exactly the
repeats. Until that read succeeds nothing is sent, so an outage at resume cannot cause repeats.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable

from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

MAX_METRICS_PER_REQUEST = 1000
"""MLflow's limit on metrics in one log_batch request (MAX_METRICS_PER_BATCH)."""

_PERMANENT_ERRORS = frozenset({"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE"})
"""Error codes a retry cannot fix (a bad key, a deleted run): the batch is dropped, not retried."""

logger = logging.getLogger(__name__)


def high_water(client: MlflowClient, run_id: str) -> dict[str, int]:
    """The highest step the run holds for each of its metric keys.

    ``get_run`` lists the keys (their latest values); a key's history gives its highest step.
    A fresh run costs one request.
    """
    keys = client.get_run(run_id).data.metrics
    return {key: max((m.step for m in client.get_metric_history(run_id, key)), default=-1) for key in keys}


class ResilientSender:
    """A bounded FIFO of metrics for one run, sent in log_batch chunks with exponential backoff."""

    def __init__(
        self,
        client: MlflowClient,
        run_id: str,
        *,
        max_pending: int = 100_000,
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < MAX_METRICS_PER_REQUEST:
            raise ValueError(f"max_pending must be >= {MAX_METRICS_PER_REQUEST}, got {max_pending}")
        if not 0 < initial_backoff_s <= max_backoff_s:
            raise ValueError("backoff must satisfy 0 < initial_backoff_s <= max_backoff_s")
        self._client = client
        self._run_id = run_id
        self._pending: deque[Metric] = deque()
        self._max_pending = max_pending
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._clock = clock
        self._backoff_s = 0.0
        self._next_attempt = 0.0
        self._failures = 0
        self.dropped = 0
        """Metrics discarded because the buffer was full or the server refused them for good."""
        self.requests = 0
        """Requests attempted (successful or not): log_batch calls and the one high-water read."""
        self.skipped = 0
        """Metrics not sent because the run already held their (key, step): repeats after a resume."""
        self._high_water: dict[str, int] | None = None

    @property
    def pending(self) -> int:
        """Metrics waiting to be sent."""
        return len(self._pending)

    @property
    def reachable(self) -> bool:
        """False from a failed attempt until the next successful one."""
        return self._failures == 0

    def submit(self, metrics: Iterable[Metric]) -> bool:
        """Queue ``metrics`` and try to send everything pending; True if nothing is left pending."""
        for metric in metrics:
            if len(self._pending) >= self._max_pending:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(metric)
        return self.flush()

    def flush(self, *, force: bool = False) -> bool:
        """Send pending metrics unless inside a backoff period (``force`` ignores it); True if all sent."""
        if not self._pending:
            return True
        if not force and self._clock() < self._next_attempt:
            return False
        if self._high_water is None and not self._load_high_water():
            return False
        while self._pending:
            chunk = [self._pending[i] for i in range(min(MAX_METRICS_PER_REQUEST, len(self._pending)))]
            if not self._send(chunk):
                return False
            for _ in chunk:  # sent, or refused for good and counted as dropped
                self._pending.popleft()
        return True

    def drain(self, timeout_s: float) -> bool:
        """Keep trying, honouring the backoff, for up to ``timeout_s`` seconds (used at trial end)."""
        deadline = self._clock() + timeout_s
        while not self.flush():
            wait = min(self._next_attempt, deadline) - self._clock()
            if self._clock() >= deadline:
                return False
            time.sleep(max(wait, 0.0))
        return True

    def _load_high_water(self) -> bool:
        """Read the run's highest logged step per key (one request, plus one per key it holds)."""
        self.requests += 1
        try:
            self._high_water = high_water(self._client, self._run_id)
        except MlflowException as error:
            if error.error_code in _PERMANENT_ERRORS:
                self._high_water = {}  # a deleted run: the send itself reports the refusal
                return True
            self._note_failure(error)
            return False
        except OSError as error:
            self._note_failure(error)
            return False
        return True

    def _send(self, chunk: list[Metric]) -> bool:
        """One request; True when the chunk is done with (sent or refused for good), False to retry."""
        marks = self._high_water if self._high_water is not None else {}
        fresh = [m for m in chunk if m.step > marks.get(m.key, -1)]
        self.skipped += len(chunk) - len(fresh)
        if not fresh:
            return True
        self.requests += 1
        try:
            self._client.log_batch(self._run_id, metrics=fresh, synchronous=True)
        except MlflowException as error:
            if error.error_code in _PERMANENT_ERRORS:
                self._drop_refused(chunk, error)
                return True
            self._note_failure(error)
            return False
        except OSError as error:  # a socket error that escaped MLflow's wrapping
            self._note_failure(error)
            return False
        for metric in fresh:
            marks[metric.key] = max(marks.get(metric.key, -1), metric.step)
        self._note_success(len(fresh))
        return True

    def _drop_refused(self, chunk: list[Metric], error: MlflowException) -> None:
        self.dropped += len(chunk)
        logger.error("MLflow refused %d metrics for run %s; dropped: %s", len(chunk), self._run_id, error)

    def _note_failure(self, error: Exception) -> None:
        self._failures += 1
        self._backoff_s = min(max(self._backoff_s * 2, self._initial_backoff_s), self._max_backoff_s)
        self._next_attempt = self._clock() + self._backoff_s
        if self._failures == 1:
            logger.warning(
                "MLflow unreachable for run %s (%s); buffering metrics (cap %d) and retrying with backoff",
                self._run_id,
                str(error).splitlines()[0][:200],
                self._max_pending,
            )
        else:
            logger.debug(
                "MLflow still unreachable (attempt %d), next in %.0f s", self._failures, self._backoff_s
            )

    def _note_success(self, sent: int) -> None:
        if self._failures:
            logger.warning(
                "MLflow reachable again for run %s after %d failed attempts; flushing %d buffered "
                "metrics (%d dropped while the buffer was full)",
                self._run_id,
                self._failures,
                len(self._pending),
                self.dropped,
            )
        self._failures = 0
        self._backoff_s = 0.0
        self._next_attempt = 0.0
