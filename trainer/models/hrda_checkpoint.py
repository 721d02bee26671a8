"""Load HRDA (and MIC(HRDA)) checkpoints: the reference's released files, and ours.

The reference's ``HRDAEncoderDecoder`` keeps the encoder under ``backbone.*`` and an ``HRDAHead``
under ``decode_head.*`` that holds the shared single-scale head as ``decode_head.head.*`` and the
scale-attention head as ``decode_head.scale_attention.*`` (absent with a fixed attention). Its UDA
checkpoints (DACS, which MIC extends without extra weights while ``mask_alpha`` is 'same') prefix
them with ``model.`` (student), ``ema_model.`` (teacher) and ``imnet_model.`` (frozen FD encoder);
``prefix`` chooses one. On DeepLabV2 (HRDA Table 2, MIC Table 1) both heads are DLV2Heads,
``decode_head.head.aspp_modules.{0,1}.conv.*`` and ``decode_head.scale_attention.aspp_modules.*``,
under the same names as ours, with open-mmlab ResNet keys under ``backbone.*``: the same renaming
applies. Ours (``save_segmentor_checkpoint`` of an ``HRDASegmentor``) hold
``encoder.*``, ``decoder.*`` and ``scale_attention.*`` with the wrapped segmentor's spec.
"""

from __future__ import annotations

from pathlib import Path

import torch

from trainer.models.checkpoint import (
    LoadReport,
    _load,
    checked_segmentor_state,
    to_segmentor_keys,
)
from trainer.models.hrda import HRDASegmentor

_HEAD, _ATTENTION = "decode_head.head.", "decode_head.scale_attention."


def to_hrda_keys(state: dict[str, torch.Tensor], model: HRDASegmentor, path: str | Path) -> dict[str, torch.Tensor]:
    """Reference HRDA names -> ours; a plain (single-scale) ``decode_head`` is refused by name."""
    reference = any(key.startswith("decode_head.") for key in state)
    if reference and not any(key.startswith(_HEAD) for key in state):
        raise ValueError(
            f"{path} holds a single-scale decode_head (no {_HEAD}*): a DAFormer checkpoint, not an HRDA one; "
            "evaluate it with model.hrda.enabled=false"
        )
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith(_ATTENTION):
            key = "scale_attention." + key.removeprefix(_ATTENTION)
        elif key.startswith(_HEAD):
            key = "decode_head." + key.removeprefix(_HEAD)
        renamed[key] = value
    return to_segmentor_keys(renamed, model)  # type: ignore[arg-type]  # backbone./decode_head. -> ours


def load_hrda_checkpoint(
    model: HRDASegmentor,
    path: str | Path,
    prefix: str = "model",
    strict: bool = True,
    allow_pickle: bool = False,
) -> LoadReport:
    """Load a reference HRDA / MIC(HRDA) checkpoint (``prefix``: model, ema_model) or one of ours."""
    state = checked_segmentor_state(model, path, prefix, allow_pickle, lambda raw: to_hrda_keys(raw, model, path))
    has_attention = any(key.startswith("scale_attention.") for key in state)
    if has_attention != (model.scale_attention is not None):
        found = "a learned scale attention" if has_attention else "no scale-attention weights (fixed attention)"
        raise ValueError(
            f"{path} holds {found}, but model.hrda.fixed_attention is {model.fixed_attention!r}"
        )
    return _load(model, state, strict, path)
