"""Example payloads shown in the OpenAPI docs of every endpoint."""

from __future__ import annotations

from typing import Any

from service.errors import ErrorBody

_TIME = "2025-01-01T12:00:00Z"

SPEC_BODY: dict[str, Any] = {
    "name": "fd-lambda-sweep",
    "description": "Thing-class FD strength on GTA->Cityscapes",
    "base": {"run": {"iterations": 40000}},
    "variants": [
        {"name": "daformer", "overrides": {}},
        {"name": "no_fd", "overrides": {"uda.fd.enabled": False}},
    ],
    "seeds": [0, 1, 2],
}
# Preset names here are real presets (tests/service/test_service_examples.py checks them).
PRESET_BODY: dict[str, Any] = {"preset": "strategies_gta", "seeds": [0, 1], "iterations": 4000}

TRIAL: dict[str, Any] = {
    "id": 7,
    "experiment_id": 1,
    "name": "daformer-s0",
    "variant": "daformer",
    "sweep": {},
    "seed": 0,
    "config_hash": "3f2a9c1e0b7d4a55",
    "status": "running",
    "attempts": 1,
    "progress": {"iteration": 12000, "total": 40000},
    "final_miou": None,
    "best_miou": 0.612,
    "best_step": 12000,
    "mlflow_run_id": "a1b2c3",
    "error": None,
    "reused_from_trial_id": None,
    "created_at": _TIME,
    "started_at": _TIME,
    "finished_at": None,
}
EXPERIMENT: dict[str, Any] = {
    "id": 1,
    "name": "fd-lambda-sweep",
    "description": "Thing-class FD strength",
    "status": "running",
    "owner": "alice",
    "spec": SPEC_BODY,
    "submitted": SPEC_BODY,
    "trial_counts": {"running": 2, "queued": 4},
    "trials_total": 6,
    "mlflow_experiment_id": "12",
    "mlflow_parent_run_id": "p9",
    "tracking_status": "pending",
    "tracking_detail": "MLflow at http://mlflow:5000 unreachable (connection refused); retried by the dispatcher",
    "error": None,
    "notice": "waiting for resources: 4 trial(s) wait, each needs 4 CPU and 1 GPU; free now 2 of 32 CPU, 0 of 8 GPU",
    "created_at": _TIME,
    "updated_at": _TIME,
    "started_at": _TIME,
    "finished_at": None,
}
DISK = {
    "estimated_peak_bytes": 20_262_000_000,
    "used_bytes": 6_754_000_000,
    "free_bytes": 812_000_000_000,
    "basis": "peak of the resume checkpoints in the storage path: ...",
}
EXPERIMENT_DETAIL = {**EXPERIMENT, "trials": [TRIAL], "disk": DISK}
PAGE = {"items": [EXPERIMENT], "next_cursor": None}
DRY_RUN = {
    "name": "fd-lambda-sweep",
    "spec": SPEC_BODY,
    "trial_count": 6,
    "gpu_hours": 96.0,
    "disk": {**DISK, "used_bytes": None},
    "estimate_basis": "paper reference: ...",
    "trials": [],
}
PER_CLASS = {"road": 0.955, "sidewalk": 0.702, "building": 0.891}
TRIAL_DETAIL = {
    **TRIAL,
    "config": {"run": {"iterations": 40000, "seed": 0}},
    "final_per_class": None,
    "log_tail": ["iter 12000 loss 0.41"],
    "history": [{"from_status": "queued", "to_status": "running", "at": _TIME, "reason": "started"}],
    "curve": [{"step": 4000, "miou": 0.55, "per_class_iou": PER_CLASS}],
    "mlflow_run_url": "http://mlflow:5000/#/experiments/12/runs/a1b2c3",
}
RESULTS = {
    "experiment_id": 1,
    "name": "fd-lambda-sweep",
    "status": "succeeded",
    "trials": [
        {
            "trial_id": 7,
            "name": "daformer-s0",
            "variant": "daformer",
            "sweep": {},
            "seed": 0,
            "status": "succeeded",
            "final_miou": 0.683,
            "final_per_class": PER_CLASS,
            "best_miou": 0.69,
            "best_step": 36000,
        }
    ],
}
PRESET_SUMMARY = {
    "name": "table4_warmup",
    "title": "Table 4 - learning rate warmup (poly10 vs poly10warm)",
    "table": "Table 4",
    "description": "DeepLabV2 ResNet-101 and SegFormer MiT-B5 as DACS UDA and oracle, without and with warmup",
    "trial_count": 8,
}
PRESET = {**PRESET_SUMMARY, "spec": SPEC_BODY}
HEALTH = {"status": "ok", "database": "ok", "schema_revision": "0001"}


def ok(example: Any, description: str = "Success", status: int = 200) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": description, "content": {"application/json": {"example": example}}}}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error body documented (with an example) for each status a route can refuse with."""
    text = {
        401: "Missing or wrong bearer token",
        404: "Not found",
        409: "Conflict",
        413: "Request body too large",
        422: "Invalid request (field paths in `fields`)",
        500: "Internal error (with a log id)",
        503: "Not ready",
    }
    return {
        s: {
            "model": ErrorBody,
            "description": text[s],
            "content": {
                "application/json": {
                    "example": {
                        "error": {
                            "code": "invalid_request" if s == 422 else "error",
                            "message": text[s],
                            "fields": [{"path": "body.seeds", "message": "List should have at least 1 item"}]
                            if s == 422
                            else [],
                            "id": None,
                        }
                    }
                }
            },
        }
        for s in statuses
    }
