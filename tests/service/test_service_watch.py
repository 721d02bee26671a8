"""`ablate watch`: rates measured from the trial's own progress, ETAs of trials and of the whole
experiment, a retried trial starting afresh, and each finished trial printed once (real API)."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from service.app import create_app
from service.client import ApiClient
from service.lifecycle import TrialStatus
from service.settings import Settings
from service.trials import repository as trials
from service.watch import TrialClock, experiment_eta, fmt_duration, fmt_rate, trial_line, watch

SPEC = {"name": "w", "base": {"run": {"iterations": 300}},
        "variants": [{"name": "a", "overrides": {"uda.rcs.enabled": False}}, {"name": "b"}], "seeds": [0]}


def _trial(tid: int, status: str, done: int, total: int = 300, attempts: int = 1) -> dict:
    return {"id": tid, "name": f"t{tid}", "status": status, "attempts": attempts, "final_miou": None,
            "progress": {"iteration": done, "total": total}}


def test_rate_is_measured_between_polls_of_one_attempt() -> None:
    clock = TrialClock()
    clock.observe(100.0, _trial(1, "running", 10))
    assert clock.rate() is None  # one sample: nothing measured, nothing invented
    clock.observe(102.0, _trial(1, "running", 14))
    assert clock.rate() == 2.0  # (14 - 10) / (102 - 100)
    clock.observe(104.0, _trial(1, "queued", 14, attempts=2))  # retried: a new attempt
    assert clock.rate() is None
    clock.observe(106.0, _trial(1, "running", 8, attempts=2))  # resumed from the checkpoint at 8
    clock.observe(110.0, _trial(1, "running", 10, attempts=2))
    assert clock.rate() == 0.5


def test_experiment_eta_from_measured_throughput() -> None:
    rows = [_trial(1, "running", 100), _trial(2, "running", 200), _trial(3, "queued", 0), _trial(4, "succeeded", 300)]
    # left: 200 + 100 + 300 = 600 iterations; trial 2 has no rate yet and counts at the mean (2.0):
    # throughput 4 it/s -> 150 s.
    assert experiment_eta(rows, {1: 2.0, 2: None, 3: None, 4: None}) == 150.0
    assert experiment_eta(rows, {}) is None
    assert (fmt_duration(150.0), fmt_duration(3725.0), fmt_duration(None)) == ("2:30", "1:02:05", "?")
    assert (fmt_rate(1.5), fmt_rate(0.5), fmt_rate(None)) == ("1.50 it/s", "2.0 s/it", "? it/s")


def test_trial_lines() -> None:
    assert trial_line(_trial(1, "running", 150), 1.5).endswith("150/300 1.50 it/s ETA 1:40")
    assert "[#####-----]" in trial_line(_trial(1, "running", 150), None)
    assert len(trial_line({**_trial(1, "running", 15000, 40000), "name": "warmup+rcs+fd/seed=2"}, 0.5)) <= 79
    assert trial_line(_trial(1, "queued", 250, attempts=2), None).endswith("[----------] 0/300")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'w.db'}", api_token="t"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


def test_watch_against_the_api(live: tuple[str, Any]) -> None:
    url, app = live
    auth = {"Authorization": "Bearer t"}
    experiment = httpx.post(f"{url}/experiments", json=SPEC, headers=auth).json()
    first, second = (t["id"] for t in experiment["trials"])
    with app.state.sessions.begin() as session:
        trials.set_trial_status(session, first, TrialStatus.RUNNING)
        trials.finish_trial(session, first, TrialStatus.SUCCEEDED, final_miou=17.7, final_per_class={},
                            best_miou=17.7, best_step=300)
        trials.set_trial_status(session, second, TrialStatus.RUNNING)
        trials.record_progress(session, second, 120, 300)
    client = ApiClient(url=url, token="t")

    terminal = _Terminal()
    assert watch(client, experiment["id"], interval_s=0.01, timeout_s=0.2, out=terminal) == "queued"
    frames = terminal.getvalue().count("experiment 1 queued: 1/2 trials done  ETA ?")
    assert frames >= 2 and "\x1b[3F" in terminal.getvalue()  # redrawn in place, 3 lines a frame
    assert "120/300 ? it/s ETA ?" in terminal.getvalue()  # no progress seen: no rate invented

    httpx.post(f"{url}/experiments/{experiment['id']}/cancel", headers=auth)
    log = io.StringIO()
    assert watch(client, experiment["id"], interval_s=0.01, out=log) == "cancelled"
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and "succeeded" in lines[0] and "mIoU 17.7" in lines[0] and "cancelled" in lines[1]
    assert "it/s" not in log.getvalue()
    client.close()


@pytest.mark.parametrize("seconds,text", [(59.6, "1:00"), (0, "0:00")])
def test_durations_round(seconds: float, text: str) -> None:
    assert fmt_duration(seconds) == text
