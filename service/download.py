"""``ablate download ID`` (an experiment) or ``ablate download --trial ID``: everything a paper or a
follow-up needs, into one folder.

- tables: ablation, per-class and architecture tables as Markdown, CSV, LaTeX and JSON (API);
- figures: every figure as PNG and SVG (API);
- results.json (experiment) or trial.json (a trial with its per-class IoU curve) (API);
- checkpoints: each trial's MLflow artifacts ``checkpoints/final`` and ``checkpoints/best`` (the
  student's weights, loadable by ``python -m trainer evaluate``) from the MLflow server. Its URI
  is ``--mlflow-uri``, else ``MLFLOW_TRACKING_URI``, else the server behind the trial's MLflow link.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

TABLE_KINDS = ("ablation", "per_class", "architecture")
TABLE_FORMATS = {"markdown": "md", "csv": "csv", "latex": "tex"}
FIGURES = ("miou_curves", "class_curves", "ablation_bars")


def add_download(subparsers: Any) -> None:
    parser = subparsers.add_parser("download", help="an experiment's (or a trial's) tables, figures and checkpoints")
    parser.add_argument("id", type=int, help="experiment id (trial id with --trial)")
    parser.add_argument("--trial", action="store_true", help="the id is a trial's: its curve and checkpoints")
    parser.add_argument("--out", type=Path, help="folder (default ./experiment-ID or ./trial-ID)")
    parser.add_argument("--mlflow-uri", help="MLflow tracking URI for the checkpoints (default: see above)")
    parser.add_argument("--no-checkpoints", action="store_true", help="skip the checkpoints")
    parser.set_defaults(func=_download)


def _download(args: argparse.Namespace) -> int:
    from service.client import ApiClient

    out = args.out or Path(f"{'trial' if args.trial else 'experiment'}-{args.id}")
    client = ApiClient()
    try:
        if args.trial:
            trials = [client.trial(args.id)]
            _write(out / "trial.json", json.dumps(trials[0], indent=2).encode())
        else:
            trials = [client.trial(t["id"]) for t in client.trials(args.id)]  # details carry the MLflow link
            written = download_experiment(client, args.id, out)
            sys.stdout.write(f"{written} tables and figures in {out}\n")
    finally:
        client.close()
    missing = 0 if args.no_checkpoints else download_checkpoints(trials, out / "checkpoints", args.mlflow_uri)
    return 1 if missing else 0


def download_experiment(client: Any, experiment_id: int, out: Path) -> int:
    """Tables, figures and results.json of an experiment into ``out``; returns the number of files."""
    base = f"/experiments/{experiment_id}"
    _write(out / "results.json", json.dumps(client.request("GET", f"{base}/results"), indent=2).encode())
    count = 1
    for kind in TABLE_KINDS:
        _write(out / "tables" / f"{kind}.json", json.dumps(client.table(experiment_id, kind), indent=2).encode())
        for fmt, ext in TABLE_FORMATS.items():
            _write(out / "tables" / f"{kind}.{ext}", client.text(f"{base}/table", kind=kind, format=fmt).encode())
        count += 1 + len(TABLE_FORMATS)
    for name in FIGURES:
        for ext in ("png", "svg"):
            _write(out / "figures" / f"{name}.{ext}", client.content(f"{base}/figures/{name}.{ext}"))
            count += 1
    return count


def download_checkpoints(trials: list[dict[str, Any]], out: Path, mlflow_uri: str | None) -> int:
    """Each trial's ``checkpoints`` artifacts into ``out/<trial name>/``; returns how many trials had
    an MLflow run whose checkpoints could not be fetched (said on stderr)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    failed = 0
    for trial in trials:
        run_id = trial.get("mlflow_run_id")
        if not run_id:
            sys.stdout.write(f"{trial['name']}: no MLflow run (not started yet), no checkpoints\n")
            continue
        uri = mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI") or _server_of(trial.get("mlflow_run_url"))
        if uri is None:
            sys.stderr.write(f"{trial['name']}: no MLflow server known; pass --mlflow-uri\n")
            failed += 1
            continue
        target = out / trial["name"].replace("/", "_")
        target.mkdir(parents=True, exist_ok=True)
        try:
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="checkpoints", dst_path=str(target), tracking_uri=uri
            )
        except (MlflowException, OSError) as exc:
            sys.stderr.write(f"{trial['name']}: no checkpoints from MLflow at {uri}: {str(exc)[:200]}\n")
            failed += 1
            continue
        sys.stdout.write(f"{trial['name']}: checkpoints in {target / 'checkpoints'}\n")
    return failed


def _server_of(run_url: str | None) -> str | None:
    """The MLflow server behind a UI link ``http://host:5000/#/experiments/1/runs/abc``."""
    return run_url.split("/#/")[0] if run_url else None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
