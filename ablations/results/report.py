"""The experiment's report page: one server-rendered HTML page, no build step, no external assets.

It shows the experiment's status, every trial's progress with a link to its MLflow run, the
ablation, per-class and architecture tables (the same ``TableView`` the JSON API returns), the
figures and download links. While anything is queued or running it refreshes itself: a small
inline script polls the status JSON endpoint and reloads the page when the answer changes
(a meta refresh when no endpoint is given). All user text goes through Jinja2's autoescape.
The service owns the routes; it passes their URLs in ``ReportUrls``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from ablations.results.figures import default_curve_classes
from ablations.results.formats import build_view
from ablations.results.records import ACTIVE_STATUSES, ExperimentInfo, TrialRecord
from ablations.results.view import MISSING, TableView


@dataclass(frozen=True)
class ReportUrls:
    """Where the page's links, images and polling point (all same-origin URLs chosen by the service).

    ``figures``: figure name -> image URL (e.g. ``/experiments/7/figures/miou_curves.png``);
    ``downloads``: link text -> URL (CSV, LaTeX tables); ``mlflow_runs``: str(trial_id) -> the
    trial's MLflow run URL; ``mlflow_compare``: MLflow's table of the experiment's trial runs;
    ``mlflow_charts``: MLflow's charts of their validation mIoU and per-class IoU;
    ``status_json``: the JSON endpoint polled while the experiment runs.
    """

    status_json: str | None = None
    figures: Mapping[str, str] = field(default_factory=dict)
    downloads: Mapping[str, str] = field(default_factory=dict)
    mlflow_compare: str | None = None
    mlflow_charts: str | None = None
    mlflow_runs: Mapping[str, str] = field(default_factory=dict)
    refresh_seconds: int = 10

    def __post_init__(self) -> None:
        if self.refresh_seconds < 1:
            raise ValueError(f"urls.refresh_seconds: expected at least 1 second, got {self.refresh_seconds}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ReportUrls:
        """Build from a plain dict, refusing unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"urls: unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**values)


@dataclass(frozen=True)
class TrialLine:
    """One line of the page's progress table."""

    name: str
    variant: str
    seed: int
    status: str
    step: int | None
    total: int | None
    fraction: float | None
    miou_text: str
    run_url: str | None


def _trial_line(trial: TrialRecord, urls: ReportUrls) -> TrialLine:
    step, total = trial.latest_step, trial.total_steps
    if total:
        fraction: float | None = min(1.0, (step or 0) / total)
    else:
        fraction = 1.0 if trial.status == "succeeded" else None
    if trial.final_miou is not None:
        miou = f"{trial.final_miou:.1f}"
    elif trial.curve:
        miou = f"{trial.curve[-1].miou:.1f} (at {trial.curve[-1].step}, in progress)"
    else:
        miou = MISSING
    run_url = urls.mlflow_runs.get(str(trial.trial_id))
    return TrialLine(
        trial.name, trial.variant, trial.seed, trial.status, step, total, fraction, miou, run_url
    )


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("ablations.results", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=20_000)
def _trial_row(line: TrialLine) -> Markup:
    """One progress line as HTML. Lines are memoised: between two renderings of a running
    experiment's page only the running trials' lines change, and rendering 1,000 lines through the
    template each time was most of the page's cost. Safe as Markup: the row template autoescapes."""
    return Markup(_environment().get_template("report_trial_row.html").render(t=line))


def is_active(info: ExperimentInfo, records: Sequence[TrialRecord]) -> bool:
    """True while the experiment or any of its trials may still change (the page keeps refreshing)."""
    return info.status in ACTIVE_STATUSES or any(t.status in ACTIVE_STATUSES for t in records)


REPORT_TABLES: tuple[str, ...] = ("ablation", "per_class", "architecture")


def report_views(info: ExperimentInfo, records: Sequence[TrialRecord]) -> dict[str, TableView]:
    """The tables the page shows; they depend on final results only, not on progress."""
    return {kind: build_view(kind, info, records) for kind in REPORT_TABLES}


LIVE_ROW = "<!--live trial row-->"
"""Where `report_pieces` leaves a trial's line out. User text is autoescaped, so its ``<`` never
appears raw and no experiment or trial name can produce this text."""


@dataclass(frozen=True)
class ReportPieces:
    """A report page cut at the lines of some trials (``live``, in page order): everything else on
    the page depends only on final results, so the service renders it once per results change and
    `fill` splices the live trials' current lines in on every progress change."""

    pieces: tuple[bytes, ...]
    live: tuple[TrialRecord, ...]
    """The live trials' records as the page was rendered, in page order."""
    urls: ReportUrls

    def fill(self, records: Mapping[str | int, TrialRecord]) -> bytes:
        """The page (UTF-8) with each live trial's line rendered from ``records[trial_id]`` (its
        kept record when ``records`` has none for it)."""
        parts = [self.pieces[0]]
        for kept, piece in zip(self.live, self.pieces[1:], strict=True):
            line = _trial_line(records.get(kept.trial_id, kept), self.urls)
            parts += [str(_trial_row(line)).encode("utf-8"), piece]
        return b"".join(parts)


def report_pieces(
    info: ExperimentInfo,
    records: Sequence[TrialRecord],
    urls: ReportUrls | Mapping[str, Any],
    views: Mapping[str, TableView] | None = None,
    default_classes: Sequence[str] | None = None,
    live: Collection[str | int] = (),
) -> ReportPieces:
    """`render_report`'s page with the lines of the trials in ``live`` left out (see `ReportPieces`)."""
    if not isinstance(urls, ReportUrls):
        urls = ReportUrls.from_mapping(urls)
    views = report_views(info, records) if views is None else views
    tables: list[tuple[str, TableView]] = [(kind, views[kind]) for kind in REPORT_TABLES]
    tables = [(kind, view) for kind, view in tables if view.rows or kind != "architecture"]
    rows = [Markup(LIVE_ROW) if t.trial_id in live else _trial_row(_trial_line(t, urls)) for t in records]
    finished = sum(t.status == "succeeded" for t in records)
    page = (
        _environment()
        .get_template("report.html")
        .render(
            info=info,
            urls=urls,
            trials=rows,
            finished=finished,
            tables=tables,
            active=is_active(info, records),
            curve_classes=list(info.eval_classes),
            default_classes=default_curve_classes(info, records) if default_classes is None else default_classes,
        )
    )
    order = tuple(t for t in records if t.trial_id in live)
    pieces = tuple(piece.encode("utf-8") for piece in page.split(LIVE_ROW))
    if len(pieces) != len(order) + 1:
        raise RuntimeError(f"report page: {len(pieces) - 1} live rows for {len(order)} live trials")
    return ReportPieces(pieces, order, urls)


def render_report(
    info: ExperimentInfo,
    records: Sequence[TrialRecord],
    urls: ReportUrls | Mapping[str, Any],
    views: Mapping[str, TableView] | None = None,
    default_classes: Sequence[str] | None = None,
) -> str:
    """The whole report page as HTML text.

    ``views`` are `report_views(info, records)` when the caller kept them from an earlier page of
    the same results; ``default_classes`` likewise `default_curve_classes(info, records)`, which
    needs the curves. The service keeps `report_pieces` instead and fills in progress lines.
    """
    return report_pieces(info, records, urls, views, default_classes).fill({}).decode("utf-8")
