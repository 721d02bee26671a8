"""When an experiment ends: its tables and figures to the MLflow parent run, and each trial's
per-class curve figure to the trial's run (issue: results, "Figures").

Logged after the database is settled, from the same records the REST tables use, so MLflow and
the API show the same numbers. A failure here is logged and never changes the experiment.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ablations.results import FIGURE_NAMES, render_figure, render_table
from ablations.tracking import make_client
from service.results.repository import load_results
from service.settings import Settings

log = logging.getLogger(__name__)

TABLE_FILES = {"markdown": "md", "csv": "csv", "latex": "tex"}


def log_experiment_results(sink: Any, settings: Settings, experiment_id: int) -> bool:
    """Log tables and figures; returns False (and logs why) when they could not be logged."""
    with sink.transaction() as session:
        info, records, _, parent, run_ids = load_results(session, experiment_id)
    if parent is None:
        return False
    try:
        client = make_client(settings.mlflow_tracking_uri)
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder)
            for kind in ("ablation", "per_class", "architecture"):
                csv_text = str(render_table(kind, "csv", info, records))
                if not csv_text.strip() or len(csv_text.strip().splitlines()) < 2:
                    continue  # no rows of this kind (e.g. no architecture rows in a sweep)
                for fmt, ext in TABLE_FILES.items():
                    (out / f"{kind}.{ext}").write_text(str(render_table(kind, fmt, info, records)))
                client.log_table(parent, pd.read_csv(io.StringIO(csv_text)), f"tables/{kind}.json")
            client.log_artifacts(parent, str(out), "tables")
            for name in FIGURE_NAMES:
                for ext in ("png", "svg"):
                    path = out / f"{name}.{ext}"
                    path.write_bytes(render_figure(name, ext, info, records))
                    client.log_artifact(parent, str(path), "figures")
            for record in records:
                run_id = run_ids.get(int(record.trial_id))
                if run_id is None or not record.curve:
                    continue
                path = out / f"per_class_iou_trial_{record.trial_id}.png"
                path.write_bytes(render_figure("class_curves", "png", info, [record], classes=list(info.eval_classes)))
                client.log_artifact(run_id, str(path), "figures")
        return True
    except Exception as exc:  # results stay in the database and the API; MLflow gets them next time
        log.warning("experiment %s: could not log tables and figures to MLflow: %s", experiment_id, exc)
        return False
