"""Links into MLflow's UI for an ablation, and the tags that make those views read well.

Kept free of the mlflow package so the API can build the report page's links without importing
it; ``ablations.tracking.runs`` sets the tags named here when it creates an experiment. Found in
MLflow 3.17's UI code: the ``mlflow.experimentKind`` tag and its values, the ``workflowType`` URL
parameter of the GenAI / Model training switch, and shared views (``viewStateShareKey``).
"""

from __future__ import annotations

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
"""MLflow 3's experiment type tag, which tells its UI and tools model training from GenAI work (a bare
experiment URL still follows the UI's global GenAI / Model training switch, hence ``workflowType``
in the links below)."""

MODEL_TRAINING_KIND = "custom_model_development"
"""The value of ``mlflow.experimentKind`` the UI shows as "Model training" (runs, metrics, charts)."""

SHARED_VIEW_TAG_PREFIX = "mlflow.sharedViewState."
"""An experiment tag ``mlflow.sharedViewState.<key>`` holds a saved runs view (JSON) that the UI
opens for ``?viewStateShareKey=<key>``: filter, sort, columns and the charts' search."""

TRIALS_VIEW_KEY = "trials"


def trials_view_url(ui_root: str, experiment_id: str, charts: bool = False) -> str:
    """The MLflow UI's runs of an ablation in model-training mode, through the shared ``trials`` view:
    the runs table (variant, seed, final mIoU columns, best first) or, with ``charts``, the chart
    view filtered to the validation metrics (``val/mIoU`` first, then ``val/iou/<class>``)."""
    query = f"workflowType=machine_learning&viewStateShareKey={TRIALS_VIEW_KEY}"
    if charts:
        query += "&compareRunsMode=CHART"
    return f"{ui_root.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"
