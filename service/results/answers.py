"""The bodies of the results routes (tables, status, report page, final results), computed once
per change of the experiment's results and then served from `ResultsCache`.

Every answer starts with `load_stamp` (one primary-key read). Tables and final results depend
only on ``Stamp.results``, so a progress row does not recompute them; status and the report
page depend on progress too. The report page reuses the cached table views, so a progress
change re-renders only its progress lines. Bodies are the exact bytes the routes returned when
they computed everything per request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ablations.results import TABLE_KINDS, ExperimentInfo, TrialRecord, render_report
from ablations.results.figures import default_curve_classes
from ablations.results.formats import build_view, render_view
from ablations.results.view import TableView
from service.results.cache import Answer, ResultsCache, Stamp
from service.results.repository import (
    Results,
    load_progress,
    load_results,
    load_stamp,
    load_summary,
    with_progress,
)

MEDIA = {"json": "application/json", "markdown": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
         "latex": "application/x-latex; charset=utf-8"}


def results_cache(request: Request) -> ResultsCache:
    cache: ResultsCache = request.app.state.results_cache
    return cache


CacheDep = Annotated[ResultsCache, Depends(results_cache)]
Views = tuple[ExperimentInfo, dict[str, TableView]]


def json_body(content: Any) -> bytes:
    """The bytes FastAPI's `JSONResponse` sends for ``content``."""
    return bytes(JSONResponse(content).body)


def _answer_size(answer: Answer) -> int:
    return len(answer.body)


def _views_size(views: Views) -> int:
    """A rough byte count of the views (their cell texts), for the cache's memory bound."""
    return 1024 + sum(len(cell) + 50 for view in views[1].values() for row in view.rows for cell in row.cells)


def table_views(session: Session, cache: ResultsCache, experiment_id: int) -> Views:
    """Every table kind of the experiment, built from its final results (cached per results change)."""
    stamp = load_stamp(session, experiment_id)

    def compute() -> Views:
        summary = load_summary(session, experiment_id)
        return summary.info, {kind: build_view(kind, summary.info, summary.records) for kind in TABLE_KINDS}

    views: Views = cache.get(experiment_id, "views", stamp.results, compute, size=_views_size)
    return views


def table(session: Session, cache: ResultsCache, experiment_id: int, kind: str, fmt: str) -> Answer:
    """The table ``kind`` in ``fmt``: the body `render_table` gives, encoded as the route sends it."""
    stamp = load_stamp(session, experiment_id)

    def compute() -> Answer:
        info, views = table_views(session, cache, experiment_id)
        rendered = render_view(views[kind], fmt, info)
        body = json_body(rendered) if fmt == "json" else str(rendered).encode("utf-8")
        return Answer(body, MEDIA[fmt])

    answer: Answer = cache.get(experiment_id, ("table", kind, fmt), stamp.results, compute, size=_answer_size)
    return answer


def current_summary(session: Session, cache: ResultsCache, experiment_id: int, stamp: Stamp) -> Results:
    """`load_summary(per_class=False)` as of now. The summary is kept per ``Stamp.results``; when
    only progress moved since, the kept one gets the trials' current progress laid over it
    (`with_progress`: two queries of plain numbers instead of rebuilding every record)."""
    computed: list[bool] = []

    def compute() -> Results:
        computed.append(True)
        return load_summary(session, experiment_id, per_class=False)

    summary: Results = cache.get(experiment_id, "summary", stamp.results, compute,
                                 size=lambda s: 1024 + 600 * len(s.records))
    return summary if computed else with_progress(summary, load_progress(session, experiment_id))


def status_body(experiment_status: str, records: list[TrialRecord]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": experiment_status, "trials": [
        {"id": r.trial_id, "status": r.status, "step": r.current_step, "miou": r.latest_miou} for r in records]}
    body["etag"] = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body


def status(session: Session, cache: ResultsCache, experiment_id: int) -> Answer:
    """Compact progress (what the report page polls), with an etag of its content."""
    stamp = load_stamp(session, experiment_id)

    def compute() -> Answer:
        summary = current_summary(session, cache, experiment_id, stamp)
        return Answer(json_body(status_body(summary.info.status, summary.records)), "application/json")

    answer: Answer = cache.get(experiment_id, "status", stamp, compute, size=_answer_size)
    return answer


def curve_defaults(session: Session, cache: ResultsCache, experiment_id: int) -> list[str]:
    """The classes the report's curve figure shows first (those that vary most), from the curves.

    Kept per ``Stamp.results``: reading every curve point on each progress row would undo the
    cache, so evaluations of running trials move the default when a trial's status or result next
    changes (the page's picker shows any class at once)."""
    stamp = load_stamp(session, experiment_id)

    def compute() -> list[str]:
        full = load_results(session, experiment_id)
        return default_curve_classes(full.info, full.records)

    classes: list[str] = cache.get(experiment_id, "curve_defaults", stamp.results, compute,
                                   size=lambda c: 64 + 32 * len(c))
    return classes


def report(session: Session, cache: ResultsCache, experiment_id: int,
           urls: Callable[[str | None, Mapping[str, str]], dict[str, Any]]) -> Answer:
    """The report page; ``urls(mlflow_experiment_id, {str(trial id): MLflow run id})`` gives its links."""
    stamp = load_stamp(session, experiment_id)

    def compute() -> Answer:
        summary = current_summary(session, cache, experiment_id, stamp)
        _, views = table_views(session, cache, experiment_id)
        run_ids = {str(trial_id): run_id for trial_id, run_id in summary.mlflow_run_ids.items()}
        page = render_report(summary.info, summary.records, urls(summary.mlflow_experiment_id, run_ids), views,
                             curve_defaults(session, cache, experiment_id))
        return Answer(page.encode("utf-8"), "text/html; charset=utf-8")

    answer: Answer = cache.get(experiment_id, "report", stamp, compute, size=_answer_size)
    return answer


def cached_json(session: Session, cache: ResultsCache, experiment_id: int, name: str,
                compute: Callable[[], Any]) -> Answer:
    """A JSON answer that depends on final results only (e.g. GET /experiments/{id}/results);
    ``compute()`` returns its JSON-ready content."""
    stamp = load_stamp(session, experiment_id)
    answer: Answer = cache.get(experiment_id, name, stamp.results,
                               lambda: Answer(json_body(compute()), "application/json"), size=_answer_size)
    return answer
