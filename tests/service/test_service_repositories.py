"""Repository functions the dispatcher uses, on real SQLite and PostgreSQL: transitions, history,
progress, curve points, and no lost update under concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service.db.engine import session_factory
from service.errors import InvalidTransitionError, NotFoundError
from service.experiments import repository as experiments
from service.experiments.models import Experiment
from service.lifecycle import ExperimentStatus, TrialStatus
from service.trials import repository as trials


def _experiment(session: Session, name: str = "e", n_trials: int = 2) -> Experiment:
    stored = experiments.insert_experiment(session, Experiment(name=name, submitted={}, spec={"name": name}))
    assert stored is not None
    trials.add_trials(
        session,
        stored.id,
        [
            {
                "name": f"t{i}",
                "variant": "v",
                "sweep": {},
                "seed": i,
                "config": {"run": {"seed": i}},
                "config_hash": f"h{i}",
                "progress_total": 100,
            }
            for i in range(n_trials)
        ],
    )
    return stored


def _in_threads(n: int, fn: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * n
    barrier = threading.Barrier(n)

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_trial_life_cycle_records_every_change(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        trial_id = trials.list_trials(s, _experiment(s).id)[0].id
    with sessions.begin() as s:
        running = trials.set_trial_status(s, trial_id, TrialStatus.RUNNING, reason="started")
        assert running.attempts == 1 and running.started_at is not None
        trials.record_progress(s, trial_id, 40, 100, [f"line {i}" for i in range(60)])
        trials.record_eval_point(s, trial_id, 40, {"road": 90.0, "sky": 80.0}, 85.0)
        trials.record_eval_point(
            s, trial_id, 40, {"road": 91.0, "sky": 81.0}, 86.0
        )  # re-evaluated after resume
        done = trials.finish_trial(
            s,
            trial_id,
            TrialStatus.SUCCEEDED,
            final_miou=86.0,
            final_per_class={"road": 91.0, "sky": 81.0},
            best_miou=86.0,
            best_step=40,
        )
    assert done.status == "succeeded" and done.finished_at is not None and done.progress_iteration == 100
    assert len(done.log_tail) == trials.LOG_TAIL_LINES and done.log_tail[-1] == "line 59"
    with sessions() as s:
        points = trials.curve(s, trial_id)
        assert [(p.step, p.miou, p.per_class_iou) for p in points] == [
            (40, 86.0, {"road": 91.0, "sky": 81.0})
        ]
        history = [(h.from_status, h.to_status) for h in trials.status_history(s, trial_id)]
        assert history == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]
        with pytest.raises(InvalidTransitionError, match="succeeded; it cannot become running"):
            trials.set_trial_status(s, trial_id, TrialStatus.RUNNING)
        with pytest.raises(NotFoundError):
            trials.set_trial_status(s, 10_000, TrialStatus.RUNNING)


def test_concurrent_status_writers_never_both_win(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        trial_id = trials.list_trials(s, _experiment(s).id)[0].id

    def start() -> int:
        with sessions.begin() as s:
            return trials.set_trial_status(s, trial_id, TrialStatus.RUNNING).attempts

    results = _in_threads(4, start)
    assert sorted(map(type, results), key=str).count(int) == 1, results
    assert all(isinstance(r, InvalidTransitionError) for r in results if not isinstance(r, int))
    with sessions() as s:
        assert trials.get_trial(s, trial_id).attempts == 1
        assert [h.to_status for h in trials.status_history(s, trial_id)] == ["queued", "running"]


def test_a_stale_orm_write_is_refused_not_lost(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        experiment_id = _experiment(s).id
    with sessions() as reader:
        stale = experiments.get_experiment(reader, experiment_id)
        reader.commit()  # the object outlives its transaction (expire_on_commit=False)
        with sessions.begin() as writer:
            experiments.set_experiment_status(writer, experiment_id, ExperimentStatus.CANCELLED)
        stale.mlflow_experiment_id = "late"
        with pytest.raises(StaleDataError):
            reader.commit()
    with sessions() as s:
        fresh = experiments.get_experiment(s, experiment_id)
        assert (fresh.status, fresh.mlflow_experiment_id, fresh.version) == ("cancelled", None, 2)


def test_concurrent_dispatchers_claim_distinct_experiments(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        ids = [_experiment(s, name=f"e{i}", n_trials=1).id for i in range(3)]

    def claim() -> int | None:
        with sessions.begin() as s:
            claimed = experiments.claim_next_queued_experiment(s)
            return None if claimed is None else claimed.id

    results = _in_threads(5, claim)
    assert sorted(r for r in results if r is not None) == ids
    assert results.count(None) == 2
    with sessions() as s:
        assert all(experiments.get_experiment(s, i).status == "running" for i in ids)
        assert [h.to_status for h in experiments.status_history(s, ids[0])] == ["queued", "running"]


def test_claim_takes_the_oldest_queued(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions.begin() as s:
        first, second = _experiment(s, "a").id, _experiment(s, "b").id
        experiments.set_experiment_status(s, first, ExperimentStatus.CANCELLED)
    with sessions.begin() as s:
        claimed = experiments.claim_next_queued_experiment(s)
        assert claimed is not None and claimed.id == second and claimed.started_at is not None
        assert experiments.claim_next_queued_experiment(s) is None


def test_a_succeeded_experiment_retries_its_cancelled_trials_only(engine: Engine) -> None:
    """A user cancelled one trial and the others succeeded: the experiment succeeded, and a retry
    re-queues it with just the cancelled trial; with nothing cancelled or failed, retry refuses."""
    from service.errors import ConflictError
    from service.experiments import service as experiment_service
    from service.trials.service import settle_experiment

    sessions = session_factory(engine)
    with sessions.begin() as s:
        experiment = _experiment(s, "partly-cancelled", n_trials=2)
        eid = experiment.id
        experiments.set_experiment_status(s, eid, ExperimentStatus.RUNNING)
        first, second = trials.list_trials(s, eid)
        first_id, second_id = first.id, second.id
        trials.set_trial_status(s, first_id, TrialStatus.CANCELLED, reason="cancelled by a user")
        trials.set_trial_status(s, second_id, TrialStatus.RUNNING)
        trials.finish_trial(s, second_id, TrialStatus.SUCCEEDED, final_miou=50.0, final_per_class={},
                            best_miou=50.0, best_step=100)
        settle_experiment(s, eid)
    with sessions.begin() as s:
        assert experiments.get_experiment(s, eid).status == "succeeded"
        detail = experiment_service.retry(s, eid)
        assert detail.status == "queued"
        assert {t.id: t.status for t in detail.trials} == {first_id: "queued", second_id: "succeeded"}
    with sessions.begin() as s:  # it runs and succeeds again: now there is nothing to retry
        experiments.set_experiment_status(s, eid, ExperimentStatus.RUNNING)
        trials.set_trial_status(s, first_id, TrialStatus.RUNNING)
        trials.finish_trial(s, first_id, TrialStatus.SUCCEEDED, final_miou=51.0, final_per_class={},
                            best_miou=51.0, best_step=100)
        settle_experiment(s, eid)
    with sessions.begin() as s, pytest.raises(ConflictError, match="0 failed or cancelled"):
        experiment_service.retry(s, eid)
