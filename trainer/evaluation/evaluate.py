"""Evaluation of a segmentor on the target validation set (spec: Self-training, last paragraph).

mmseg's test path: logits at the network input's size (whole image, or averaged sliding
windows), resized bilinearly to the label's original size, argmax; the confusion matrix sums over
the whole set before the IoU is taken (dataset-level IoU, not a mean of per-image IoUs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from trainer.config import CITYSCAPES_CLASSES
from trainer.evaluation.metrics import confusion_matrix, iou_per_class, mean_iou
from trainer.models import HRDASegmentor, Segmentor
from trainer.optim.precision import autocast


@dataclass(frozen=True)
class EvalResult:
    """IoU in percent (0..100) as the paper reports it.

    ``per_class_iou`` holds the evaluation classes whose IoU is defined (a class absent from both
    ground truth and prediction has none); ``miou`` is their mean; ``confusion`` is on the CPU.
    """

    per_class_iou: dict[str, float]
    miou: float
    confusion: torch.Tensor


def class_names(num_classes: int) -> tuple[str, ...]:
    """Cityscapes names for the 19 classes, ``class_<i>`` for any other class count."""
    if num_classes == len(CITYSCAPES_CLASSES):
        return CITYSCAPES_CLASSES
    return tuple(f"class_{i}" for i in range(num_classes))


def summarise(confusion: torch.Tensor, eval_classes: Sequence[int]) -> EvalResult:
    """Per-class IoU and mIoU (percent) over ``eval_classes`` from a (K, K) confusion matrix."""
    iou = iou_per_class(confusion.cpu())
    names = class_names(confusion.shape[0])
    per_class = {names[c]: 100.0 * float(iou[c]) for c in eval_classes if not math.isnan(float(iou[c]))}
    return EvalResult(per_class, 100.0 * mean_iou(iou, eval_classes), confusion.cpu())


@torch.no_grad()
def predict(
    model: Segmentor | HRDASegmentor,
    img: torch.Tensor,
    size: tuple[int, int],
    mode: Literal["whole", "slide"] = "whole",
    crop: tuple[int, int] = (512, 512),
    stride: tuple[int, int] = (341, 341),
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Class ids (B, *size) for normalised images (B, 3, H, W); logits resized to ``size`` first."""
    with autocast(img.device, amp_dtype):
        logits = model.inference(img, mode=mode, crop=crop, stride=stride)
    logits = logits.float()
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits.argmax(dim=1)


def evaluate_segmentor(
    model: Segmentor | HRDASegmentor,
    loader: Iterable[Mapping[str, torch.Tensor]],
    device: torch.device,
    eval_classes: Sequence[int],
    mode: Literal["whole", "slide"] = "whole",
    crop: tuple[int, int] = (512, 512),
    stride: tuple[int, int] = (341, 341),
    amp_dtype: torch.dtype | None = None,
) -> EvalResult:
    """Score ``model`` (put in eval mode, then restored) on batches ``{"img", "label"}``."""
    was_training = model.training
    model.eval()
    num_classes = model.num_classes
    confusion = torch.zeros((num_classes, num_classes), dtype=torch.int64, device=device)
    try:
        for batch in loader:
            img = batch["img"].to(device, non_blocking=True)
            label = batch["label"].to(device, non_blocking=True)
            pred = predict(model, img, (label.shape[-2], label.shape[-1]), mode, crop, stride, amp_dtype)
            confusion += confusion_matrix(pred, label, num_classes)
    finally:
        model.train(was_training)
    return summarise(confusion, eval_classes)
