"""The plain-data description of one trial that travels from the dispatcher to a Ray worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PAYLOAD_KEY = "trial"
"""Tune's per-trial config is ``{PAYLOAD_KEY: payload dict}`` (Tune grids over a dict's values)."""


def service_trial_id(tune_config: dict[str, Any]) -> int:
    """The service's trial id inside a Tune trial config."""
    return int(tune_config[PAYLOAD_KEY]["trial_id"])


@dataclass(frozen=True)
class TrialPayload:
    """Everything a worker needs to run one trial; it is Tune's per-trial ``config``.

    ``trial_id`` is the service's id (Tune has its own). ``mlflow_run_id`` is created by the
    dispatcher before the trial starts, so a retried or resumed trial logs into the same run.
    Payloads are plain data; a field added later gets a default, so restored Tune state still loads.
    """

    trial_id: int
    name: str
    train_config: dict[str, Any]
    mlflow_tracking_uri: str | None = None
    mlflow_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    outputs_dir: str | None = None
    """Where the final and best weights and the metrics log are kept when MLflow did not get them
    (the trainer works in a scratch folder that is deleted with the trial): the service's replay
    uploads them from there once MLflow is back. On the storage path, so shared with the driver."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialPayload:
        return cls(**data)
