"""Score a saved network on the target validation set: ours, or the reference's checkpoints.

Our training checkpoints hold ``student`` and ``teacher``; ``which`` names them as the reference
does (``model`` = student, ``ema_model`` = EMA teacher). Any other file goes through
``trainer.models.load_segmentor_checkpoint`` (mmseg ``backbone.``/``decode_head.`` keys, UDA
``model.``/``ema_model.`` prefixes, our model-only files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from tqdm import tqdm

from trainer.config import TrainConfig
from trainer.data import build_val_loader
from trainer.engine.checkpoint import FORMAT
from trainer.engine.runtime import resolve_device
from trainer.evaluation import EvalResult, evaluate_segmentor
from trainer.models import HRDASegmentor, Segmentor, build_segmentor, load_segmentor_checkpoint
from trainer.models.checkpoint import read_checkpoint
from trainer.models.hrda_checkpoint import load_hrda_checkpoint
from trainer.models.network import hrda_from_config
from trainer.optim.precision import autocast_dtype

_OWN_KEYS = {"model": "student", "ema_model": "teacher"}


def load_network(
    cfg: TrainConfig,
    path: str | Path,
    which: Literal["model", "ema_model"] = "model",
    allow_pickle: bool = False,
) -> Segmentor | HRDASegmentor:
    """The network ``cfg.model`` describes (HRDA-wrapped when ``model.hrda.enabled``), with the
    weights of ``which`` from ``path``."""
    if which not in _OWN_KEYS:
        raise ValueError(f"--which must be 'model' or 'ema_model', got {which!r}")
    m = cfg.model
    model: Segmentor | HRDASegmentor
    model = build_segmentor(m.encoder, m.decoder, m.num_classes, 0.0, m.decoder_channels, pretrained=None)
    if m.hrda.enabled:
        model = hrda_from_config(model, m.hrda)
    raw = read_checkpoint(path, allow_pickle)
    if raw.get("format") == FORMAT:
        state = raw["step"].get(_OWN_KEYS[which])
        if state is None:
            raise ValueError(f"{path} holds no {which} ({_OWN_KEYS[which]}): the run was not in uda mode")
        model.load_state_dict(state)
    elif isinstance(model, HRDASegmentor):
        load_hrda_checkpoint(model, path, prefix=which, strict=True, allow_pickle=allow_pickle)
    else:
        load_segmentor_checkpoint(model, path, prefix=which, strict=True, allow_pickle=allow_pickle)
    return model


def evaluate_checkpoint(
    cfg: TrainConfig,
    path: str | Path,
    which: Literal["model", "ema_model"] = "model",
    allow_pickle: bool = False,
    progress: bool = False,
) -> EvalResult:
    """Per-class IoU and mIoU (percent) of a checkpoint under ``cfg``'s evaluation settings."""
    device = resolve_device(cfg.run.device)
    model = load_network(cfg, path, which, allow_pickle).to(device)
    loader = build_val_loader(cfg)
    batches = tqdm(loader, desc="evaluate", unit="img", disable=not progress)
    run = cfg.run
    with torch.no_grad():
        return evaluate_segmentor(
            model,
            batches,
            device,
            cfg.eval_classes,
            run.eval_mode,
            run.slide_crop,
            run.slide_stride,
            autocast_dtype(run.precision, device),
        )
