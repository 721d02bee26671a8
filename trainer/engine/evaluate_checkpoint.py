"""Score a saved network on the target validation set: ours, or the reference's checkpoints.

Our training checkpoints hold ``student`` and ``teacher``; ``which`` names them as the reference
does (``model`` = student, ``ema_model`` = EMA teacher). Any other file goes through
``trainer.models.load_segmentor_checkpoint`` (mmseg ``backbone.``/``decode_head.`` keys, UDA
``model.``/``ema_model.`` prefixes, our model-only files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from tqdm import tqdm

from trainer.config import TrainConfig
from trainer.data import build_val_loader
from trainer.engine.checkpoint import FORMAT
from trainer.engine.runtime import resolve_device
from trainer.evaluation import EvalResult, evaluate_segmentor
from trainer.evaluation.evaluate import class_names, predict, summarise
from trainer.evaluation.metrics import confusion_matrix
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
            raise ValueError(f"{path} holds no {which} ({_OWN_KEYS[which]}): the run had no EMA teacher "
                             "(not in uda mode, or uda.method minent/advseg)")
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
    save_dir: Path | None = None,
) -> EvalResult:
    """Per-class IoU and mIoU (percent) of a checkpoint under ``cfg``'s evaluation settings.

    ``save_dir``: also write every predicted label map (``label_maps``) and the confusion matrix
    as a figure (``confusion_matrix.png``) and as numbers (``confusion_matrix.csv``, pixels).
    """
    device = resolve_device(cfg.run.device)
    model = load_network(cfg, path, which, allow_pickle).to(device)
    loader = build_val_loader(cfg)
    batches = tqdm(loader, desc="evaluate", unit="img", disable=not progress)
    run = cfg.run
    if save_dir is not None:
        return _evaluate_and_save(cfg, model, loader, batches, device, save_dir)
    with torch.no_grad():
        return evaluate_segmentor(
            model,
            batches,
            device,
            cfg.eval_classes,
            run.eval_mode,
            run.slide_crop,
            run.slide_stride,
            autocast_dtype(run.precision, device, run.numerics),
        )


def _evaluate_and_save(
    cfg: TrainConfig, model: Segmentor, loader: Any, batches: Any, device: torch.device, save_dir: Path
) -> EvalResult:
    """The same scoring as ``evaluate_segmentor`` (``predict`` then the summed confusion matrix),
    one image at a time so each prediction is written under its image's name."""
    from trainer.engine.figures import write_confusion_figure
    from trainer.engine.label_maps import LabelMapWriter, prediction_name

    run, writer = cfg.run, LabelMapWriter(save_dir)
    samples = loader.dataset.samples  # batch size 1, in order (build_val_loader)
    k = model.num_classes
    confusion = torch.zeros((k, k), dtype=torch.int64, device=device)
    model.eval()
    with torch.no_grad():
        for sample, batch in zip(samples, batches, strict=True):
            label = batch["label"].to(device)
            pred = predict(model, batch["img"].to(device), (label.shape[-2], label.shape[-1]), run.eval_mode,
                           run.slide_crop, run.slide_stride, autocast_dtype(run.precision, device))
            confusion += confusion_matrix(pred, label, k)
            writer.write(prediction_name(sample.image), pred[0].cpu().numpy())
    result = summarise(confusion, cfg.eval_classes)
    names = class_names(k)
    counts = result.confusion.numpy()
    write_confusion_figure(counts, names, save_dir / "confusion_matrix.png", Path(str(cfg.run.output_dir)).name)
    rows = [",".join(["ground_truth/predicted", *names])]
    rows += [",".join([names[i], *(str(int(v)) for v in counts[i])]) for i in range(k)]
    (save_dir / "confusion_matrix.csv").write_text("\n".join(rows) + "\n")
    return result
