"""Every table of the service in one metadata, for Alembic and for tests that compare schemas."""

from service.db.base import Base
from service.experiments.models import Experiment, ExperimentStatusChange
from service.trials.models import Trial, TrialMetricPoint, TrialStatusChange

__all__ = ["Base", "Experiment", "ExperimentStatusChange", "Trial", "TrialMetricPoint", "TrialStatusChange"]
