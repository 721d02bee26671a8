"""Building an MlflowClient whose network calls fail fast instead of stalling a training loop.

MLflow's HTTP layer reads its timeout and retry count from environment variables at every
request (``MLFLOW_HTTP_REQUEST_TIMEOUT``, default 120 s, and ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``,
default 7 retries with exponential backoff, about four minutes in all). With those defaults one
metric batch sent to an unreachable server would freeze the trial for minutes. The tracking
package does its own buffering and backoff (``sender.py``), so the client itself should try once
and give up quickly. The variables are process-wide by MLflow's design; they are set for the
process that logs (a trial worker), and a value the operator already exported is kept.
"""

from __future__ import annotations

import os

from mlflow import MlflowClient

DEFAULT_HTTP_TIMEOUT_S = 10
"""Seconds per HTTP request: long enough for a loaded server, short enough not to stall training."""

DEFAULT_HTTP_MAX_RETRIES = 0
"""MLflow's own retries: none, since ``ResilientSender`` retries with its own non-blocking backoff."""


def configure_http_timeouts(
    timeout_s: int = DEFAULT_HTTP_TIMEOUT_S,
    max_retries: int = DEFAULT_HTTP_MAX_RETRIES,
    *,
    override: bool = False,
) -> None:
    """Set MLflow's HTTP timeout and retry count for this process (kept if already exported).

    ``override=True`` replaces values already in the environment (tests and benchmarks use it
    to be sure of the behaviour they measure).
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    for name, value in (
        ("MLFLOW_HTTP_REQUEST_TIMEOUT", str(timeout_s)),
        ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(max_retries)),
    ):
        if override or name not in os.environ:
            os.environ[name] = value


def make_client(tracking_uri: str, *, timeout_s: int = DEFAULT_HTTP_TIMEOUT_S) -> MlflowClient:
    """An ``MlflowClient`` bound to ``tracking_uri`` (no global fluent state) with fast-failing HTTP."""
    configure_http_timeouts(timeout_s=timeout_s)
    return MlflowClient(tracking_uri=tracking_uri)
