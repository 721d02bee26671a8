"""Buffering and backoff of ResilientSender against a real MLflow client whose server is down.

The client points at a closed port on 127.0.0.1 (connection refused), so every request fails
fast for real; only the clock is ours, to step through the backoff schedule without sleeping.
"""

from __future__ import annotations

import logging
import time

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from ablations.tracking import configure_http_timeouts, free_port
from ablations.tracking.sender import ResilientSender


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def dead_client(monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(tracking_uri=f"http://127.0.0.1:{free_port()}")


def metrics(first: int, count: int) -> list[Metric]:
    return [Metric("val/mIoU", 0.5, 0, step) for step in range(first, first + count)]


def test_attempts_follow_exponential_backoff(
    dead_client: MlflowClient, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sender = ResilientSender(dead_client, "run", initial_backoff_s=1.0, max_backoff_s=4.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="ablations.tracking.sender"):
        started = time.monotonic()
        assert sender.submit(metrics(0, 3)) is False
        assert time.monotonic() - started < 2.0
    assert "MLflow unreachable" in caplog.text
    assert (sender.requests, sender.pending, sender.reachable) == (1, 3, False)
    sender.submit(metrics(3, 1))  # inside the 1 s backoff: queued, no request
    assert (sender.requests, sender.pending) == (1, 4)
    expected_gaps = [1.0, 2.0, 4.0, 4.0]  # doubling, capped at max_backoff_s
    for gap in expected_gaps:
        before = sender.requests
        clock.now += gap - 0.01
        sender.flush()
        assert sender.requests == before  # still backing off
        clock.now += 0.01
        sender.flush()
        assert sender.requests == before + 1
    assert sender.pending == 4


def test_buffer_is_bounded_and_drops_the_oldest(dead_client: MlflowClient) -> None:
    sender = ResilientSender(dead_client, "run", max_pending=1000, clock=Clock())
    sender.submit(metrics(0, 1500))
    assert (sender.pending, sender.dropped) == (1000, 500)
    assert sender.flush(force=True) is False
    assert sender.requests == 2


def test_drain_gives_up_at_its_deadline(dead_client: MlflowClient) -> None:
    sender = ResilientSender(dead_client, "run", initial_backoff_s=0.1)
    sender.submit(metrics(0, 2))
    started = time.monotonic()
    assert sender.drain(timeout_s=0.5) is False
    assert time.monotonic() - started < 1.5
    assert sender.pending == 2


def test_bad_settings_are_refused() -> None:
    client = MlflowClient(tracking_uri="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="max_pending"):
        ResilientSender(client, "run", max_pending=10)
    with pytest.raises(ValueError, match="backoff"):
        ResilientSender(client, "run", initial_backoff_s=5, max_backoff_s=1)
    with pytest.raises(ValueError, match="timeout_s"):
        configure_http_timeouts(timeout_s=0)
