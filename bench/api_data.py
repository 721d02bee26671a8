"""Grids and stored results for the API benchmarks: an experiment of N trials, each with 19
per-class IoUs and a curve of 10 evaluations, most succeeded and 16 still running.

The trials are created through the API's own service (`service.experiments.service.create`),
then their results are written with bulk SQL (one INSERT of every curve point, one UPDATE per
trial) rather than the dispatcher's one-row-at-a-time path: the benchmarks measure reads, and
writing 100,000 curve points row by row would take longer than the reads being measured. The
progress writer (`write_progress`) then uses the dispatcher's own repository functions.
"""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.orm import Session

from ablations.spec import AblationSpec
from service.db.engine import make_engine, session_factory
from service.experiments import planning
from service.experiments import service as experiments
from service.settings import Settings
from service.trials import repository as trials
from service.trials.models import Trial, TrialMetricPoint
from trainer.config import CITYSCAPES_CLASSES

EVALS = 10
RUNNING = 16
ITERATIONS = 1000


def grid(trials: int, name: str = "bench") -> dict[str, Any]:
    """A grid of exactly ``trials`` trials: variants x 4 temperatures x seeds (trials % 4 == 0)."""
    if trials % 4:
        raise ValueError(f"trials must be a multiple of 4, got {trials}")
    cells = trials // 4
    seeds = next(s for s in (25, 10, 5, 3, 1) if cells % s == 0)
    return {
        "name": name,
        "base": {"run": {"iterations": ITERATIONS}},
        "variants": [
            {"name": f"v{i}", "overrides": {"uda.pseudo_label.threshold": 0.5 + i / (2 * cells)}}
            for i in range(cells // seeds)
        ],
        "sweeps": [{"key": "uda.rcs.temperature", "values": [0.01, 0.1, 1.0, 10.0]}],
        "seeds": list(range(seeds)),
        "baseline": "v0",
        "max_trials": max(trials, 1000),
    }


def roomy_storage() -> None:
    """Tell the service its storage path has room for any grid: this machine's disk could not hold
    a 10,000-trial grid's checkpoints. The estimate is still computed on every POST (its cost is
    part of what is measured); it only never refuses."""
    planning.storage_shortfall = lambda path, estimate: None  # type: ignore[assignment]


def create_experiment(engine: Engine, trials: int) -> int:
    """Store a ``trials``-trial experiment with results and curves; returns its id."""
    roomy_storage()
    settings = Settings(database_url=str(engine.url), max_trials=max(trials, 1000))
    spec = AblationSpec.model_validate(grid(trials, f"bench{trials}"))
    with session_factory(engine).begin() as session:
        detail, _ = experiments.create(session, settings, spec, None, None)
        _fill(session, [t.id for t in detail.trials], random.Random(trials))
    return detail.id


def _fill(session: Session, trial_ids: list[int], rng: random.Random) -> None:
    points, finals = [], []
    for index, trial_id in enumerate(trial_ids):
        running = index >= len(trial_ids) - RUNNING
        base = rng.uniform(40.0, 70.0)
        curve = []
        for e in range(1, EVALS + 1):
            values = {c: round(min(100.0, max(0.0, base * e / EVALS + rng.gauss(0, 5))), 4) for c in CITYSCAPES_CLASSES}
            curve.append((ITERATIONS * e // EVALS, values, sum(values.values()) / len(values)))
        curve = curve[: EVALS // 2] if running else curve
        points += [{"trial_id": trial_id, "step": s, "per_class_iou": v, "miou": m} for s, v, m in curve]
        best = max(curve, key=lambda p: p[2])
        finals.append({
            "tid": trial_id, "status": "running" if running else "succeeded", "attempts": 1,
            "progress_iteration": curve[-1][0], "final_miou": None if running else curve[-1][2],
            "final_per_class": None if running else curve[-1][1], "best_miou": None if running else best[2],
            "best_step": None if running else best[0], "mlflow_run_id": f"{trial_id:032x}",
        })
    session.execute(TrialMetricPoint.__table__.insert(), points)
    statement = update(Trial.__table__).where(Trial.__table__.c.id == bindparam("tid"))
    session.execute(statement, finals)


def write_progress(database_url: str, experiment_id: int, stop: Any, writes: Any, per_second: float = 1.0) -> None:
    """What a dispatcher writes while 16 trials run, until ``stop`` (an Event) is set: a progress
    row per running trial and second (the sink's rate) and, every 10th write of a trial, an
    evaluation point, each in its own transaction through the dispatcher's repository functions.
    Runs in its own process, as the dispatcher does; ``writes`` (a shared Value) counts them."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        running = list(session.scalars(
            select(Trial.id).where(Trial.experiment_id == experiment_id, Trial.status == "running")))
    interval = 1.0 / (per_second * max(1, len(running)))
    step = dict.fromkeys(running, ITERATIONS // 2)
    rng = random.Random(0)
    while not stop.is_set():
        for trial_id in running:
            begun = time.perf_counter()
            step[trial_id] += 1
            with sessions.begin() as session:
                if step[trial_id] % 10 == 0:
                    values = {c: rng.uniform(30, 60) for c in CITYSCAPES_CLASSES}
                    trials.record_eval_point(session, trial_id, step[trial_id], values,
                                             sum(values.values()) / len(values))
                trials.record_progress(session, trial_id, step[trial_id], ITERATIONS, ["bench line"])
            with writes.get_lock():
                writes.value += 1
            if stop.wait(max(0.0, interval - (time.perf_counter() - begun))):
                break
    engine.dispose()
