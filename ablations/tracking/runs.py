"""The MLflow layout of an ablation: one experiment, one parent run, one nested run per trial.

A trial's run is created *before* the trial starts, and its id is stored on the trial's database
row; a resumed trial is handed that id and keeps logging into the same run. Creation is also
idempotent on its own: each trial run carries a ``ablation.trial_key`` tag (a hash of the trial's
name and config hash), so if the process died between creating the run and storing its id,
asking again finds the existing run instead of making a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from mlflow import MlflowClient
from mlflow.entities import Param
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_PARENT_RUN_ID

from ablations.tracking.keys import MAX_TAG_VALUE_LENGTH, config_params, format_value, sanitize_key, truncate

PARAMS_PER_BATCH = 100
"""MLflow accepts at most 100 params per log_batch request (MAX_PARAMS_TAGS_PER_BATCH)."""

TAG_ROLE = "ablation.role"
TAG_EXPERIMENT_ID = "ablation.experiment_id"
TAG_TRIAL_KEY = "ablation.trial_key"
TAG_TRIAL_NAME = "ablation.trial_name"
TAG_VARIANT = "ablation.variant"
TAG_FACTORS = "ablation.factors"
TAG_FACTOR_PREFIX = "ablation.factor."
TAG_SEED = "ablation.seed"
TAG_CONFIG_HASH = "ablation.config_hash"
TAG_CODE_VERSION = "ablation.code_version"

_PACKAGE_NAME = "daformer-ablate"


class TrialLike(Protocol):
    """What a trial run needs to know of a trial (``ablations.TrialPlan`` has these fields)."""

    @property
    def name(self) -> str: ...
    @property
    def variant(self) -> str: ...
    @property
    def sweep(self) -> Mapping[str, Any]: ...
    @property
    def seed(self) -> int: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def config_hash(self) -> str: ...


def code_version(repo_dir: Path | None = None) -> str:
    """The git revision of the checkout this code runs from, else the installed package version.

    A trial must say which code produced it; a git checkout says it best (``git rev-parse HEAD``),
    an installed wheel (a docker image) has only its version. "unknown" if neither is available.
    """
    directory = repo_dir or Path(__file__).resolve().parents[2]
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        result = None
    if result is not None and result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip()
    try:
        return metadata.version(_PACKAGE_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def trials_view() -> str:
    """The shared runs view of an ablation (see ``ablations.results.mlflow_links``), as the UI reads it: only
    trial runs, best final mIoU first, columns variant, seed, final and latest mIoU and duration
    (few enough to fit a screen), and the charts' search set to the validation metrics."""
    view = {
        "searchFilter": f"tags.`{TAG_ROLE}` = 'trial'",
        "orderByKey": "metrics.`final/mIoU`",
        "orderByAsc": False,
        "selectedColumns": [
            f"tags.`{TAG_VARIANT}`",
            f"tags.`{TAG_SEED}`",
            "metrics.`final/mIoU`",
            "metrics.`val/mIoU`",
            "attributes.`Duration`",
        ],
        "chartsSearchFilter": "val/",
    }
    return json.dumps(view)


def ensure_experiment(
    client: MlflowClient, name_or_service_id: str, tags: Mapping[str, str] | None = None
) -> str:
    """The MLflow experiment id for a service experiment, created on first call (idempotent).

    ``tags`` are set on creation and added to an existing experiment; a deleted experiment of the
    same name is restored (MLflow keeps its name reserved, so creating it again would fail).
    """
    # Imported here, not at the top: every trial's worker imports this package for its reporter, and
    # ``ablations.results`` (matplotlib, scipy) would add about a second to each worker's start.
    from ablations.results.mlflow_links import (
        EXPERIMENT_KIND_TAG,
        MODEL_TRAINING_KIND,
        SHARED_VIEW_TAG_PREFIX,
        TRIALS_VIEW_KEY,
    )

    if not name_or_service_id.strip():
        raise ValueError("name_or_service_id must be a non-empty experiment name")
    all_tags = {
        TAG_EXPERIMENT_ID: name_or_service_id,
        EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND,  # opens as model training, not GenAI traces
        SHARED_VIEW_TAG_PREFIX + TRIALS_VIEW_KEY: trials_view(),
        **dict(tags or {}),
    }
    existing = client.get_experiment_by_name(name_or_service_id)
    if existing is None:
        try:
            return client.create_experiment(name_or_service_id, tags=all_tags)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            existing = client.get_experiment_by_name(name_or_service_id)  # another process won the race
            if existing is None:
                raise
    if existing.lifecycle_stage == "deleted":
        client.restore_experiment(existing.experiment_id)
    for key, value in all_tags.items():
        if existing.tags.get(key) != value:
            client.set_experiment_tag(existing.experiment_id, key, value)
    return existing.experiment_id


def _find_run(client: MlflowClient, experiment_id: str, filter_string: str) -> str | None:
    runs = client.search_runs([experiment_id], filter_string=filter_string, max_results=1)
    return runs[0].info.run_id if runs else None


def create_parent_run(
    client: MlflowClient, experiment_id: str, name: str, tags: Mapping[str, str] | None = None
) -> str:
    """The experiment's parent run (one per MLflow experiment), created on first call."""
    found = _find_run(client, experiment_id, f"tags.`{TAG_ROLE}` = 'experiment'")
    if found is not None:
        return found
    run_tags = {
        TAG_ROLE: "experiment",
        **{k: truncate(v, MAX_TAG_VALUE_LENGTH) for k, v in (tags or {}).items()},
    }
    return client.create_run(experiment_id, run_name=name, tags=run_tags).info.run_id


def trial_key(trial: TrialLike) -> str:
    """A stable, filter-safe identity of a trial within its experiment (hex of name + config hash)."""
    return hashlib.sha256(f"{trial.name}\n{trial.config_hash}".encode()).hexdigest()[:32]


def trial_tags(
    trial: TrialLike, parent_run_id: str, service_experiment_id: str, revision: str
) -> dict[str, str]:
    """The tags that let a reader filter and group trial runs: variant, factors, seed, hash, code."""
    tags = {
        MLFLOW_PARENT_RUN_ID: parent_run_id,
        TAG_ROLE: "trial",
        TAG_EXPERIMENT_ID: service_experiment_id,
        TAG_TRIAL_KEY: trial_key(trial),
        TAG_TRIAL_NAME: trial.name,
        TAG_VARIANT: trial.variant,
        TAG_FACTORS: json.dumps(dict(trial.sweep), sort_keys=True, default=str),
        TAG_SEED: str(trial.seed),
        TAG_CONFIG_HASH: trial.config_hash,
        TAG_CODE_VERSION: revision,
    }
    if len(revision) == 40 and all(c in "0123456789abcdef" for c in revision):
        tags[MLFLOW_GIT_COMMIT] = revision
    for key, value in trial.sweep.items():
        tags[sanitize_key(TAG_FACTOR_PREFIX + key)] = format_value(value)
    return {key: truncate(value, MAX_TAG_VALUE_LENGTH) for key, value in tags.items()}


def log_params(client: MlflowClient, run_id: str, params: Mapping[str, str]) -> None:
    """Log params in ``log_batch`` calls of at most 100 (re-logging an identical value is allowed)."""
    items = [Param(key, value) for key, value in params.items()]
    for start in range(0, len(items), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=items[start : start + PARAMS_PER_BATCH], synchronous=True)


def create_trial_run(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    trial: TrialLike,
    *,
    service_experiment_id: str | None = None,
    revision: str | None = None,
) -> str:
    """The trial's nested run id, with every resolved config value as params; never a duplicate.

    ``service_experiment_id`` defaults to the experiment's own ``ablation.experiment_id`` tag
    (set by ``ensure_experiment``); ``revision`` to ``code_version()``.
    """
    same_trial = f"tags.`{TAG_TRIAL_KEY}` = '{trial_key(trial)}'"
    found = _find_run(
        client, experiment_id, f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}' and {same_trial}"
    )
    params = config_params(trial.config)
    if found is not None:
        log_params(client, found, params)  # completes a run whose creator died before its params
        return found
    if service_experiment_id is None:
        experiment = client.get_experiment(experiment_id)
        service_experiment_id = experiment.tags.get(TAG_EXPERIMENT_ID, experiment.name)
    tags = trial_tags(trial, parent_run_id, service_experiment_id, revision or code_version())
    run_id = client.create_run(experiment_id, run_name=trial.name, tags=tags).info.run_id
    log_params(client, run_id, params)
    return run_id
