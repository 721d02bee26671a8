"""The science of an ablation grid: specs, their expansion into trials, presets, runs and tables.

The names below are the torch-free core (spec, expansion, presets); the Ray Tune execution,
MLflow tracking and result tables live in the subpackages and are imported from there.
"""

from ablations.expand import TrialPlan, canonical_json, config_hash, estimate_gpu_hours, expand
from ablations.presets import PresetInfo, PresetOverrides, list_presets, load_preset
from ablations.spec import AblationSpec, Resources, SpecError, Sweep, Variant

__all__ = [
    "AblationSpec",
    "PresetInfo",
    "PresetOverrides",
    "Resources",
    "SpecError",
    "Sweep",
    "TrialPlan",
    "Variant",
    "canonical_json",
    "config_hash",
    "estimate_gpu_hours",
    "expand",
    "list_presets",
    "load_preset",
]
