"""Helpers of the execution tests: submit and claim experiments, read trial rows, wait for events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.db.engine import make_engine, session_factory
from service.experiments import repository as experiments
from service.experiments import service as experiment_service
from service.experiments.schemas import ExperimentCreate
from service.settings import Settings
from service.trials import repository as trials


def _sessions(settings: Settings) -> Any:
    return session_factory(make_engine(settings.database_url))


def tiny_spec(bench: Path, name: str = "tiny", iterations: int = 6, variants: list[dict[str, Any]] | None = None,
              seeds: tuple[int, ...] = (0,)) -> dict[str, Any]:
    """A real UDA grid that trains in seconds on one CPU core."""
    return {
        "name": name,
        "base": {
            "model": {"encoder": "mit_b0", "decoder_channels": 16, "pretrained": None},
            "data": {"source": {"kind": "gta", "root": str(bench / "gta"), "resize": [128, 64]},
                     "target": {"kind": "cityscapes", "root": str(bench / "cityscapes"), "resize": [128, 64]},
                     "val_resize": [128, 64], "crop_size": [64, 64], "batch_size": 1, "num_workers": 0},
            "uda": {"rcs": {"min_pixels": 10}, "pseudo_label": {"crop_top": 2, "crop_bottom": 8}},
            "optim": {"warmup_iters": 2},
            "run": {"iterations": iterations, "eval_interval": 3, "checkpoint_interval": 3, "log_interval": 1,
                    "precision": "fp32", "device": "cpu"},
        },
        "variants": variants or [{"name": "full"}, {"name": "no_fd", "overrides": {"uda.fd.enabled": False}}],
        "seeds": list(seeds),
        "resources": {"cpus": 1, "gpus": 0},
    }



def submit(settings: Settings, spec: dict[str, Any], reuse_results: bool = True) -> int:
    """Store an experiment exactly as POST /experiments does; returns its id."""
    from pydantic import TypeAdapter

    body = TypeAdapter(ExperimentCreate).validate_python(spec)
    with _sessions(settings).begin() as session:
        detail, _ = experiment_service.create(session, settings, body, None, None, reuse_results)
        return int(detail.id)


def claim(settings: Settings, experiment_id: int) -> None:
    """Claim the experiment as a dispatcher does (it must be the oldest queued one)."""
    with _sessions(settings).begin() as session:
        claimed = experiments.claim_next_queued_experiment(session)
        assert claimed is not None and claimed.id == experiment_id


def trial_rows(settings: Settings, experiment_id: int) -> list[dict[str, Any]]:
    with _sessions(settings).begin() as session:
        rows = []
        for t in trials.list_trials(session, experiment_id):
            rows.append({
                "id": t.id, "name": t.name, "status": t.status, "attempts": t.attempts,
                "final_miou": t.final_miou, "final_per_class": t.final_per_class, "mlflow_run_id": t.mlflow_run_id,
                "progress": t.progress_iteration, "reused_from": t.reused_from_trial_id, "error": t.error,
                "log_tail": list(t.log_tail or []),
                "curve": [{"step": p.step, "miou": p.miou} for p in trials.curve(session, t.id)],
                "history": [(h.from_status, h.to_status, h.reason) for h in trials.status_history(session, t.id)],
            })
        return rows


def experiment_status(settings: Settings, experiment_id: int) -> str:
    with _sessions(settings).begin() as session:
        return str(experiments.get_experiment(session, experiment_id).status)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def trial_worker_processes() -> list[Any]:
    """The Ray worker processes running a Tune function trial (titled ``ray::ImplicitFunc...``).

    Found by process title, so no Ray dashboard (state API) is needed.
    """
    import psutil

    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(process.info.get("cmdline") or []) + " " + (process.info.get("name") or "")
        if "ImplicitFunc" in title:
            found.append(process)
    return found


def raylet_of(process: Any) -> int | None:
    """The pid of the raylet (node) a worker process belongs to: its nearest raylet ancestor."""
    for parent in process.parents():
        if "raylet" in (parent.name() or ""):
            return int(parent.pid)
    return None


class Background:
    """Runs a callable in a thread and keeps its result or exception for the test to check."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self.result = fn()
        except BaseException as exc:  # handed to the test thread by join()
            self.error = exc

    def join(self, timeout_s: float = 300.0) -> Any:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the background run did not finish"
        if self.error is not None:
            raise self.error
        return self.result
