"""HTTP routes of an experiment's results: tables in four formats, figures, the report page.

Everything is computed from the database (see `repository.py`), so a running experiment's page
and tables are always current and partial rows are marked partial; computed answers are kept
until the experiment's results change (`answers.py`, `cache.py`), which one primary-key read
per request tells.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from ablations.results import FIGURE_NAMES, render_figure
from ablations.results.mlflow_links import trials_view_url
from service.api import examples as ex
from service.api.deps import Reader, ReadSession, SettingsDep
from service.errors import NotFoundError
from service.results import answers
from service.results.answers import MEDIA, CacheDep
from service.results.repository import load_results
from service.settings import Settings

router = APIRouter(prefix="/experiments", tags=["results"])
ExperimentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Experiment id.")]
TableKind = Literal["ablation", "per_class", "architecture"]
TableFormat = Literal["json", "markdown", "csv", "latex"]
EXTENSION = {"markdown": "md", "csv": "csv", "latex": "tex"}


@router.get(
    "/{experiment_id}/table",
    dependencies=[Reader],
    summary="The paper-style table of an experiment (mean +- std over seeds, deltas, per class)",
    responses={200: {"content": {m.split(";")[0]: {} for m in MEDIA.values()}}, **ex.refusals(401, 404, 422, 500)},
)
def table(
    experiment_id: ExperimentId,
    session: ReadSession,
    cache: CacheDep,
    kind: TableKind = "ablation",
    format: TableFormat = "json",
    download: Annotated[bool, Query(description="Serve as an attachment (CSV/LaTeX downloads).")] = False,
) -> Response:
    answer = answers.table(session, cache, experiment_id, kind, format)
    headers = {}
    if download and format != "json":
        headers["Content-Disposition"] = f'attachment; filename="experiment-{experiment_id}-{kind}.{EXTENSION[format]}"'
    return Response(answer.body, media_type=answer.media_type, headers=headers)


@router.get(
    "/{experiment_id}/figures/{filename}",
    dependencies=[Reader],
    summary="A figure: miou_curves, class_curves or ablation_bars, as .png or .svg",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}, **ex.refusals(401, 404, 422, 500)},
)
def figure(
    experiment_id: ExperimentId,
    filename: Annotated[str, Path(description="NAME.png or NAME.svg", examples=["miou_curves.png"])],
    session: ReadSession,
    classes: Annotated[str | None, Query(description="Comma-separated classes for class_curves.")] = None,
) -> Response:
    name, _, ext = filename.rpartition(".")
    if ext not in {"png", "svg"} or name not in FIGURE_NAMES:
        raise NotFoundError(f"no figure {filename!r}; expected NAME.png or NAME.svg with NAME in {list(FIGURE_NAMES)}")
    info, records, *_ = load_results(session, experiment_id)
    chosen = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    try:
        body = render_figure(name, ext, info, records, classes=chosen)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    return Response(body, media_type="image/png" if ext == "png" else "image/svg+xml")


@router.get("/{experiment_id}/status", dependencies=[Reader], summary="Compact progress, polled by the report page",
            responses=ex.refusals(401, 404, 422, 500))
def status(experiment_id: ExperimentId, session: ReadSession, cache: CacheDep) -> Response:
    answer = answers.status(session, cache, experiment_id)
    return Response(answer.body, media_type=answer.media_type)


def _mlflow_views(settings: Settings, mlflow_experiment_id: str | None, run_ids: list[str]) -> dict[str, str | None]:
    """MLflow's runs table (variant, seed, final mIoU) and its charts of the validation metrics."""
    run_url = settings.mlflow_run_url(mlflow_experiment_id, run_ids[0]) if run_ids else None
    if run_url is None or mlflow_experiment_id is None:
        return {"mlflow_compare": None, "mlflow_charts": None}
    root = run_url.split("/#/")[0]
    return {"mlflow_compare": trials_view_url(root, mlflow_experiment_id),
            "mlflow_charts": trials_view_url(root, mlflow_experiment_id, charts=True)}


def _urls(settings: Settings, experiment_id: int, mlflow_experiment_id: str | None, run_ids: dict[str, str]) -> dict:
    base = f"/experiments/{experiment_id}"
    runs = {tid: url for tid, rid in run_ids.items()
            if (url := settings.mlflow_run_url(mlflow_experiment_id, rid)) is not None}
    return {
        "status_json": f"{base}/status",
        "figures": {name: f"{base}/figures/{name}.png" for name in FIGURE_NAMES},
        "downloads": {f"{kind} table ({fmt.upper() if fmt == 'csv' else 'LaTeX'})":
                      f"{base}/table?kind={kind}&format={fmt}&download=true"
                      for kind in ("ablation", "per_class") for fmt in ("csv", "latex")},
        **_mlflow_views(settings, mlflow_experiment_id, sorted(run_ids.values())),
        "mlflow_runs": runs,
    }


@router.get("/{experiment_id}/report", dependencies=[Reader], response_class=HTMLResponse,
            summary="The report page: progress, tables, figures and MLflow links",
            responses={200: {"content": {"text/html": {}}}, **ex.refusals(401, 404, 422, 500)})
def report(experiment_id: ExperimentId, session: ReadSession, settings: SettingsDep, cache: CacheDep) -> HTMLResponse:
    answer = answers.report(session, cache, experiment_id,
                            lambda mlflow_id, run_ids: _urls(settings, experiment_id, mlflow_id, dict(run_ids)))
    return HTMLResponse(answer.body)
