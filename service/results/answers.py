"""The bodies of the results routes (tables, status, report page, final results), computed once
per change of the experiment's results and then served from `ResultsCache`.

Every answer starts with `load_stamp` (one primary-key read). Tables and final results depend
only on ``Stamp.results``, so a progress row does not recompute them; status and the report
page depend on progress too, but only through the queued and running trials: both are kept per
results change cut at those trials' parts (`StatusPieces`, `ReportPieces`), and a progress
change re-reads and re-renders only them, however many trials have finished. Bodies are the
exact bytes the routes returned when they computed everything per request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from ablations.results import TABLE_KINDS, ExperimentInfo, ReportPieces, TrialRecord, report_pieces
from ablations.results.figures import default_curve_classes
from ablations.results.formats import build_view, render_view
from ablations.results.records import ACTIVE_STATUSES
from ablations.results.view import TableView
from service.results.cache import Answer, ResultsCache, Stamp
from service.results.repository import (
    Results,
    load_progress,
    load_results,
    load_stamp,
    load_summary,
    progress_over,
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


def _summary(session: Session, cache: ResultsCache, experiment_id: int, stamp: Stamp) -> Results:
    """`load_summary(per_class=False)` as of the last results change (kept per ``Stamp.results``)."""
    summary: Results = cache.get(experiment_id, "summary", stamp.results,
                                 lambda: load_summary(session, experiment_id, per_class=False),
                                 size=lambda s: 1024 + 600 * len(s.records))
    return summary


def _live(records: list[TrialRecord]) -> list[TrialRecord]:
    """The queued and running trials: the only ones whose progress can move while
    ``Stamp.results`` holds (the trials repository counts any other trial's move as a results change)."""
    return [r for r in records if r.status in ACTIVE_STATUSES]


def live_records(session: Session, experiment_id: int, kept: tuple[TrialRecord, ...]) -> dict[str | int, TrialRecord]:
    """The ``kept`` records of live trials as of now: their progress re-read (two queries of plain
    numbers on the active trials only) and laid over them. They come from the kept pieces
    themselves, so each piece always has its record, even if a results change lands meanwhile."""
    return {r.trial_id: r for r in progress_over(kept, load_progress(session, experiment_id))}


def status_body(experiment_status: str, records: list[TrialRecord]) -> dict[str, Any]:
    """The status answer computed from scratch (the reference `StatusPieces` is checked against)."""
    body: dict[str, Any] = {"status": experiment_status, "trials": [_status_item(r) for r in records]}
    body["etag"] = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return body


def _status_item(r: TrialRecord) -> dict[str, Any]:
    return {"id": r.trial_id, "status": r.status, "step": r.current_step, "miou": r.latest_miou}


def _compact(value: Any) -> str:
    """`JSONResponse`'s encoding of ``value``."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def _split(texts: list[str | None]) -> tuple[str, ...]:
    """Join ``texts``, cutting at each None: n Nones give n + 1 pieces."""
    pieces: list[str] = []
    current: list[str] = []
    for text in texts:
        if text is None:
            pieces.append("".join(current))
            current = []
        else:
            current.append(text)
    return (*pieces, "".join(current))


def _interleave(pieces: tuple[str, ...], parts: list[str]) -> str:
    out = [pieces[0]]
    for part, piece in zip(parts, pieces[1:], strict=True):
        out += [part, piece]
    return "".join(out)


class StatusPieces(NamedTuple):
    """`status_body`'s two texts (the JSON sent, and the sorted-keys JSON its etag hashes), cut at
    the live trials' items, which are the only ones a progress change can move."""

    body: tuple[str, ...]
    canonical: tuple[str, ...]
    live: tuple[TrialRecord, ...]
    """The live trials' records as the pieces were cut, in order."""

    @classmethod
    def of(cls, experiment_status: str, records: list[TrialRecord]) -> StatusPieces:
        live = {r.trial_id for r in _live(records)}
        body: list[str | None] = ['{"status":', _compact(experiment_status), ',"trials":[']
        canonical: list[str | None] = ['{"status": ', json.dumps(experiment_status), ', "trials": [']
        for i, r in enumerate(records):
            if i:
                body.append(",")
                canonical.append(", ")
            item = r.trial_id in live
            body.append(None if item else _compact(_status_item(r)))
            canonical.append(None if item else json.dumps(_status_item(r), sort_keys=True))
        body.append('],"etag":"')
        canonical.append("]}")
        order = tuple(r for r in records if r.trial_id in live)
        return cls(_split(body), _split(canonical), order)

    def fill(self, records: Mapping[str | int, TrialRecord]) -> bytes:
        """The status answer with the live trials' items from ``records[trial_id]`` (the kept
        record when there is none)."""
        items = [_status_item(records.get(kept.trial_id, kept)) for kept in self.live]
        canonical = _interleave(self.canonical, [json.dumps(item, sort_keys=True) for item in items])
        etag = hashlib.sha1(canonical.encode()).hexdigest()
        return (_interleave(self.body, [_compact(item) for item in items]) + etag + '"}').encode("utf-8")


def status(session: Session, cache: ResultsCache, experiment_id: int) -> Answer:
    """Compact progress (what the report page polls), with an etag of its content. Its text is
    kept per results change with the live trials' items left out (`StatusPieces`); a progress
    change only re-reads and re-renders those few items."""
    stamp = load_stamp(session, experiment_id)

    def compute() -> Answer:
        summary = _summary(session, cache, experiment_id, stamp)
        pieces: StatusPieces = cache.get(
            experiment_id, "status_pieces", stamp.results,
            lambda: StatusPieces.of(summary.info.status, summary.records),
            size=lambda p: sum(len(t) for t in (*p.body, *p.canonical)))
        return Answer(pieces.fill(live_records(session, experiment_id, pieces.live)), "application/json")

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
    """The report page; ``urls(mlflow_experiment_id, {str(trial id): MLflow run id})`` gives its links.

    The page is rendered once per results change with the live trials' lines left out
    (`ReportPieces`: header, tables, figures, every finished trial's line); a progress change
    re-renders only the live lines and splices them in."""
    stamp = load_stamp(session, experiment_id)

    def pieces(summary: Results) -> ReportPieces:
        _, views = table_views(session, cache, experiment_id)
        run_ids = {str(trial_id): run_id for trial_id, run_id in summary.mlflow_run_ids.items()}
        live = {r.trial_id for r in _live(summary.records)}
        return report_pieces(summary.info, summary.records, urls(summary.mlflow_experiment_id, run_ids), views,
                             curve_defaults(session, cache, experiment_id), live=live)

    def compute() -> Answer:
        summary = _summary(session, cache, experiment_id, stamp)
        kept: ReportPieces = cache.get(experiment_id, "report_pieces", stamp.results, lambda: pieces(summary),
                                       size=lambda p: sum(len(piece) for piece in p.pieces))
        return Answer(kept.fill(live_records(session, experiment_id, kept.live)), "text/html; charset=utf-8")

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
