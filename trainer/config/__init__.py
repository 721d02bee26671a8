"""The trainer's configuration: one frozen, validated tree with the paper's defaults.

Importable without torch, so the service can validate ablation specs on a machine that has no
PyTorch. See ``schema.py`` for the fields and ``loading.py`` for YAML and ``--set`` overrides.
"""

from trainer.config.loading import apply_overrides, config_from_dict, load_config, parse_override
from trainer.config.schema import (
    CITYSCAPES_CLASSES,
    SYNTHIA_EVAL_CLASSES,
    THING_CLASSES,
    AdvSegConfig,
    DataConfig,
    DatasetConfig,
    EMAConfig,
    FDConfig,
    HRDAConfig,
    MICConfig,
    MinEntConfig,
    MixConfig,
    ModelConfig,
    OptimConfig,
    PseudoLabelConfig,
    RCSConfig,
    RunConfig,
    TrainConfig,
    UDAConfig,
)

__all__ = [
    "CITYSCAPES_CLASSES",
    "SYNTHIA_EVAL_CLASSES",
    "THING_CLASSES",
    "AdvSegConfig",
    "DataConfig",
    "DatasetConfig",
    "EMAConfig",
    "FDConfig",
    "HRDAConfig",
    "MICConfig",
    "MinEntConfig",
    "MixConfig",
    "ModelConfig",
    "OptimConfig",
    "PseudoLabelConfig",
    "RCSConfig",
    "RunConfig",
    "TrainConfig",
    "UDAConfig",
    "apply_overrides",
    "config_from_dict",
    "load_config",
    "parse_override",
]
