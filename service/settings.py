"""The control plane's settings, read from ``ABLATE_*`` environment variables (or a ``.env`` file).

Every process of the service (API, dispatcher, CLI) builds its ``Settings`` through
``get_settings()`` at its entry point; nothing is read at import time, so tests pass their own.
The defaults are the embedded single-machine setup: everything under ``./.ablate``.

==========================  =====================================  ==================================
variable                    default                                meaning
==========================  =====================================  ==================================
ABLATE_DATABASE_URL         sqlite:///./.ablate/ablate.db          SQLAlchemy URL of the service DB
ABLATE_MLFLOW_TRACKING_URI  sqlite:///./.ablate/mlflow.db          MLflow tracking store
ABLATE_MLFLOW_ARTIFACTS     ./.ablate/mlartifacts                  artifact root of a local store
ABLATE_MLFLOW_UI_URL        None                                   base URL of run links (MLflow UI)
ABLATE_RAY_ADDRESS          None (start a local Ray)               e.g. ``ray-head:6379``
ABLATE_STORAGE_PATH         ./.ablate/ray_results                  Tune state and checkpoints
ABLATE_DATA_ROOT            ./data                                 datasets root
ABLATE_API_TOKEN            None (reads open, writes refused)      bearer token of the API
ABLATE_PROTECT_READS        true                                   false: reads open even with a token
ABLATE_HOST / ABLATE_PORT   127.0.0.1 / 8000                       where ``ablate serve`` listens
ABLATE_MAX_TRIALS           1000                                   largest grid one POST may expand to
ABLATE_MAX_BODY_BYTES       1048576                                request bodies above this get 413
ABLATE_MIGRATE_ON_START     true                                   false: refuse to start when behind
==========================  =====================================  ==================================
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path(".ablate")


class Settings(BaseSettings):
    """Where the service keeps its state and how the API is exposed."""

    model_config = SettingsConfigDict(env_prefix="ABLATE_", env_file=".env", extra="ignore", frozen=True)

    database_url: str = Field(f"sqlite:///./{STATE_DIR}/ablate.db", description="SQLAlchemy database URL.")
    mlflow_tracking_uri: str = Field(f"sqlite:///./{STATE_DIR}/mlflow.db", description="MLflow tracking URI.")
    mlflow_artifacts: str = Field(f"./{STATE_DIR}/mlartifacts", description="Artifact root of a local store.")
    mlflow_ui_url: str | None = Field(
        None, description="Base URL of the MLflow UI for run links; None: the tracking URI when it is HTTP."
    )
    ray_address: str | None = Field(None, description="Ray cluster address; None starts a local Ray.")
    storage_path: str = Field(f"./{STATE_DIR}/ray_results", description="Tune state and checkpoints.")
    data_root: str = Field("./data", description="Root folder of the datasets.")
    api_token: str | None = Field(None, description="Bearer token; required for writes, and reads when set.")
    protect_reads: bool = Field(
        True, description="With a token set, reads need it too; False opens reads (a loopback demo's pages)."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)
    max_trials: int = Field(1000, gt=0, description="Largest number of trials one experiment may expand to.")
    max_body_bytes: int = Field(1_048_576, gt=0, description="Request bodies above this are refused (413).")
    migrate_on_start: bool = Field(
        True, description="Run `alembic upgrade head` at start; False: refuse if behind."
    )

    @field_validator("api_token", "ray_address", "mlflow_ui_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """docker-compose passes unset variables as empty strings; they mean "not set"."""
        return None if value == "" else value

    def mlflow_run_url(self, experiment_id: str | None, run_id: str | None) -> str | None:
        """A link to an MLflow run in the UI, or None when there is no browsable server."""
        base = self.mlflow_ui_url
        if base is None and self.mlflow_tracking_uri.startswith(("http://", "https://")):
            base = self.mlflow_tracking_uri
        if base is None or not run_id or not experiment_id:
            return None
        return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def get_settings() -> Settings:
    """The settings of this process, from the environment at call time."""
    return Settings()
