"""MLflow tracking of ablation trials: experiment and run layout, a resilient Reporter, a local server.

Imports MLflow but never torch, so the service can import it.
"""

from ablations.tracking.client import configure_http_timeouts, make_client
from ablations.tracking.keys import config_params, metric_key, sanitize_key
from ablations.tracking.reporter import MlflowReporter
from ablations.tracking.runs import (
    TrialLike,
    code_version,
    create_parent_run,
    create_trial_run,
    ensure_experiment,
    trial_key,
)
from ablations.tracking.sender import ResilientSender
from ablations.tracking.server import MlflowServer, free_port, start_mlflow_server

__all__ = [
    "MlflowReporter",
    "MlflowServer",
    "ResilientSender",
    "TrialLike",
    "code_version",
    "config_params",
    "configure_http_timeouts",
    "create_parent_run",
    "create_trial_run",
    "ensure_experiment",
    "free_port",
    "make_client",
    "metric_key",
    "sanitize_key",
    "start_mlflow_server",
    "trial_key",
]
