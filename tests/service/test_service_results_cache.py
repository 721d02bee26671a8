"""Cached result answers on SQLite and PostgreSQL: served again while nothing changed, recomputed
after every write that changes them, and byte for byte what a fresh computation gives."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from ablations.results import TABLE_FORMATS, TABLE_KINDS, render_report, render_table
from service.experiments import repository as experiments
from service.lifecycle import ExperimentStatus, TrialStatus
from service.results.answers import json_body, status_body
from service.results.cache import ResultsCache
from service.results.repository import load_results
from service.results.router import _urls
from service.trials import repository as trials

SPEC: dict[str, Any] = {
    "name": "cache-mini",
    "base": {"run": {"iterations": 10}},
    "variants": [{"name": "dacs", "overrides": {"uda.rcs.enabled": False}}, {"name": "rcs"}],
    "seeds": [0, 1],
    "baseline": "dacs",
}
MIOU = {("dacs", 0): 50.0, ("dacs", 1): 52.0, ("rcs", 0): 56.0, ("rcs", 1): 57.0}


def _start(api: TestClient, experiment: dict[str, Any]) -> None:
    with api.app.state.sessions.begin() as s:
        for t in experiment["trials"]:
            trials.set_trial_status(s, t["id"], TrialStatus.RUNNING)
            trials.record_eval_point(s, t["id"], 5, {"road": 40.0, "rider": 30.0}, 35.0)


def _finish(api: TestClient, trial: dict[str, Any], miou: float | None = None) -> None:
    miou = MIOU[(trial["variant"], trial["seed"])] if miou is None else miou
    with api.app.state.sessions.begin() as s:
        trials.record_eval_point(s, trial["id"], 10, {"road": miou, "rider": miou - 10}, miou)
        trials.finish_trial(s, trial["id"], TrialStatus.SUCCEEDED, final_miou=miou,
                            final_per_class={"road": miou, "rider": miou - 10}, best_miou=miou, best_step=10)


def _cache(api: TestClient) -> ResultsCache:
    cache: ResultsCache = api.app.state.results_cache
    return cache


def test_a_new_result_changes_a_cached_table(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _start(api, experiment)
    for t in experiment["trials"][:-1]:
        _finish(api, t)
    url = f"/experiments/{experiment['id']}/table"
    first = api.get(url, params={"format": "markdown"}).text
    hits = _cache(api).hits
    assert api.get(url, params={"format": "markdown"}).text == first and _cache(api).hits > hits
    assert "56.0" in first and "56.5" not in first  # rcs has one seed of two finished: 56.0

    _finish(api, experiment["trials"][-1])
    second = api.get(url, params={"format": "markdown"}).text
    assert second != first and "56.5" in second
    rows = {r["variant"]: r for r in api.get(url).json()["rows"]}
    assert rows["rcs"]["miou_mean"] == 56.5 and rows["dacs"]["miou_mean"] == 51.0


def test_results_follow_every_finished_trial(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _start(api, experiment)
    url = f"/experiments/{experiment['id']}/results"
    assert [t["final_miou"] for t in api.get(url).json()["trials"]] == [None] * 4
    assert api.get(url).json() == api.get(url).json()
    for n, t in enumerate(experiment["trials"], start=1):
        _finish(api, t)
        finals = [r["final_miou"] for r in api.get(url).json()["trials"]]
        assert sum(f is not None for f in finals) == n


def test_progress_and_evaluations_change_status_and_report(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _start(api, experiment)
    trial_id, base = experiment["trials"][0]["id"], f"/experiments/{experiment['id']}"
    before, page = api.get(f"{base}/status").json(), api.get(f"{base}/report").text
    assert api.get(f"{base}/status").json() == before
    table = api.get(f"{base}/table").content

    with api.app.state.sessions.begin() as s:
        trials.record_progress(s, trial_id, 7, 10)
    after = api.get(f"{base}/status").json()
    assert after["etag"] != before["etag"] and after["trials"][0]["step"] == 7
    assert "7 / 10" in api.get(f"{base}/report").text and "7 / 10" not in page
    assert api.get(f"{base}/table").content == table  # progress alone does not change a table

    with api.app.state.sessions.begin() as s:
        trials.record_eval_point(s, trial_id, 8, {"road": 61.0, "rider": 41.0}, 51.0)
    assert api.get(f"{base}/status").json()["trials"][0]["miou"] == 51.0
    assert "51.0 (at 8, in progress)" in api.get(f"{base}/report").text


def test_progress_of_a_finished_trial_reaches_status_and_report(api: TestClient) -> None:
    """Only active trials are re-read when only progress moved: a progress row or an evaluation
    written to an ended trial must therefore count as a results change."""
    experiment = api.post("/experiments", json=SPEC).json()
    _start(api, experiment)
    done = experiment["trials"][0]
    _finish(api, done)
    base = f"/experiments/{experiment['id']}"
    assert api.get(f"{base}/status").json()["trials"][0]["step"] == 10
    for write in (lambda s: trials.record_progress(s, done["id"], 4, 10),
                  lambda s: trials.record_eval_point(s, done["id"], 12, {"road": 70.0}, 70.0)):
        api.get(f"{base}/report")  # cached before the write
        with api.app.state.sessions.begin() as s:
            write(s)
        with api.app.state.read_sessions() as s:
            results = load_results(s, experiment["id"])
        assert api.get(f"{base}/status").json()["trials"][0]["step"] == results.records[0].current_step == 4
        urls = _urls(api.app.state.settings, experiment["id"], None, {})
        assert api.get(f"{base}/report").text == render_report(results.info, results.records, urls)


def test_experiment_changes_reach_cached_answers(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    base = f"/experiments/{experiment['id']}"
    assert api.get(f"{base}/table").json()["experiment"]["status"] == "queued"
    assert "mlflow.test" not in api.get(f"{base}/report").text
    with api.app.state.sessions.begin() as s:
        experiments.set_experiment_status(s, experiment["id"], ExperimentStatus.RUNNING)
        experiments.set_mlflow_ids(s, experiment["id"], "7", "parent")
        for t in experiment["trials"]:
            trials.get_trial(s, t["id"]).mlflow_run_id = f"run{t['id']}"
    assert api.get(f"{base}/table").json()["experiment"]["status"] == "running"
    assert api.get(f"{base}/status").json()["status"] == "running"
    assert "viewStateShareKey=trials" in api.get(f"{base}/report").text  # the MLflow runs view link
    assert api.post(f"{base}/cancel").status_code == 200
    assert {t["status"] for t in api.get(f"{base}/status").json()["trials"]} == {"cancelled"}


def test_cached_tables_are_what_a_fresh_computation_gives(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _start(api, experiment)
    for t in experiment["trials"][1:]:
        _finish(api, t)
    with api.app.state.read_sessions() as s:
        info, records, *_ = load_results(s, experiment["id"])
    for _ in range(2):  # computed, then served from the cache
        for kind in TABLE_KINDS:
            for fmt in TABLE_FORMATS:
                body = api.get(f"/experiments/{experiment['id']}/table", params={"kind": kind, "format": fmt}).content
                fresh = render_table(kind, fmt, info, records)
                assert body == (json_body(fresh) if fmt == "json" else str(fresh).encode()), (kind, fmt)


def test_status_and_report_are_what_the_full_records_give(api: TestClient) -> None:
    experiment = api.post("/experiments", json=SPEC).json()
    _start(api, experiment)
    for t in experiment["trials"][2:]:
        _finish(api, t)
    with api.app.state.sessions.begin() as s:
        trials.record_progress(s, experiment["trials"][0]["id"], 6, 10)
        experiments.set_mlflow_ids(s, experiment["id"], "7", "parent")
        trials.get_trial(s, experiment["trials"][1]["id"]).mlflow_run_id = "run1"
    base = f"/experiments/{experiment['id']}"
    # computed, served from the cache, progress spliced into the kept pieces, then trial 0 ends
    # (a results change: the pieces are cut again, at trial 1 only), then trial 1 moves alone
    for step in (0, 0, 8, 9, 10, 11):
        if step in (8, 9):
            with api.app.state.sessions.begin() as s:
                trials.record_progress(s, experiment["trials"][1]["id"], step, 10)
                trials.record_eval_point(s, experiment["trials"][0]["id"], step, {"road": 60.0}, 40.0 + step)
        if step == 10:
            _finish(api, experiment["trials"][0], 63.0)
        if step == 11:
            with api.app.state.sessions.begin() as s:
                trials.record_eval_point(s, experiment["trials"][1]["id"], 9, {"road": 66.0}, 55.5)
        with api.app.state.read_sessions() as s:
            results = load_results(s, experiment["id"])
        answer = api.get(f"{base}/status")
        assert answer.content == json_body(status_body(results.info.status, results.records))
        assert answer.json()["trials"] == [
            {"id": r.trial_id, "status": r.status, "step": r.current_step, "miou": r.latest_miou}
            for r in results.records]
        urls = _urls(api.app.state.settings, experiment["id"], results.mlflow_experiment_id,
                     {str(k): v for k, v in results.mlflow_run_ids.items()})
        assert api.get(f"{base}/report").text == render_report(results.info, results.records, urls)


def test_the_cache_is_bounded_and_computes_once_per_change() -> None:
    cache = ResultsCache(max_bytes=100)
    assert cache.get(1, "a", 1, lambda: b"x" * 60) == b"x" * 60
    assert cache.get(2, "a", 1, lambda: b"y" * 60) == b"y" * 60  # evicts experiment 1's answer
    assert cache.size_bytes == 60
    assert cache.get(1, "a", 1, lambda: b"z") == b"z"
    assert cache.get(1, "a", 2, lambda: b"new") == b"new" and cache.get(1, "a", 2, lambda: b"?") == b"new"
    assert cache.get(3, "big", 1, lambda: b"w" * 101) == b"w" * 101 and cache.size_bytes <= 100

    calls: list[int] = []

    def slow() -> bytes:
        calls.append(1)
        time.sleep(0.2)
        return b"once"

    threads = [threading.Thread(target=cache.get, args=(9, "s", 1, slow)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_status_pieces_fill_live_items_and_keep_a_record_they_are_not_given() -> None:
    """The kept status text with live items spliced in is `status_body`'s answer; a live trial the
    fresh progress lacks (a results change landed between two reads) keeps its kept item."""
    from dataclasses import replace

    from ablations.results import CurvePoint, TrialRecord
    from service.results.answers import StatusPieces

    records = [
        TrialRecord(1, "a/seed=0", "a", {}, 0, "succeeded", final_miou=50.0, current_step=10, total_steps=10),
        TrialRecord(2, "a/seed=1", "a", {}, 1, "running", current_step=3, total_steps=10),
        TrialRecord(3, "b/seed=0", "b", {}, 0, "failed", current_step=4, total_steps=10),
        TrialRecord(4, "b/seed=1", "b", {}, 1, "queued", current_step=0, total_steps=10),
    ]
    pieces = StatusPieces.of("running", records)
    assert [r.trial_id for r in pieces.live] == [2, 4] and len(pieces.body) == len(pieces.canonical) == 3
    assert pieces.fill({}) == json_body(status_body("running", records))
    moved = replace(records[1], current_step=7, curve=[CurvePoint(6, {}, 44.5)])
    expected = json_body(status_body("running", [records[0], moved, *records[2:]]))
    assert pieces.fill({2: moved}) == expected and b'"step":7,"miou":44.5' in expected
